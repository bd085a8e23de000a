// SPDX-License-Identifier: GPL-2.0
/*
 * The compiled decode-and-format loop: walks a batch of ring samples (bpf/record.h, included
 * below: the layout is the header's, never restated) and writes each event's audit text or
 * JSON line into one output buffer, byte for byte what tracer/formats/audit_text.py and
 * jsonl.py write for the event tracer/capture/reader.py decodes from the same sample.
 *
 * What it does not format itself it hands back, in order, to the Python reference path
 * (tracer/formats/native.py): events with EXECVE or CAPS items, PATH objects that need kernel
 * audit's whole names-list replay, a decision rules.evaluate must finish, an inet6 address in
 * JSON, a tty that is not ASCII. Accounting (delivered, malformed, sequence gaps) is done here
 * for every sample, handed back or not.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/types.h>	/* __u8 .. __s64, as the BPF side has them */
#include "record.h"

#define MAX_PATHS 16	/* PATH items one event may carry here; more: handed back */
#define MAX_OBJS 16
#define MAX_CUT 24

/* -- output buffer ------------------------------------------------------ */

struct buf {
	char *p;
	size_t len, cap;
};

static int buf_grow(struct buf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 1 << 16;
	char *p;

	while (cap < b->len + need)
		cap *= 2;
	p = PyMem_Realloc(b->p, cap);
	if (!p) {
		PyErr_NoMemory();
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

/* room for `need` more bytes: every writer below asks before it writes */
#define ROOM(b, need) do { if ((b)->len + (need) > (b)->cap && buf_grow((b), (need)) < 0) return -1; } while (0)

static inline __attribute__((always_inline)) int put(struct buf *b, const char *s, size_t n)
{
	ROOM(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

#define PUTS(b, lit) put((b), (lit), sizeof(lit) - 1)

static const char DIGIT_PAIRS[] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* v in decimal at dst; returns its length (at most 20) */
static inline int fmt_u64(char *dst, uint64_t v)
{
	char tmp[24];
	int i = sizeof(tmp);

	while (v >= 100) {
		unsigned r = v % 100;
		v /= 100;
		i -= 2;
		memcpy(tmp + i, DIGIT_PAIRS + 2 * r, 2);
	}
	if (v >= 10) {
		i -= 2;
		memcpy(tmp + i, DIGIT_PAIRS + 2 * v, 2);
	} else {
		tmp[--i] = '0' + v;
	}
	memcpy(dst, tmp + i, sizeof(tmp) - i);
	return sizeof(tmp) - i;
}

static int put_u64(struct buf *b, uint64_t v)	/* %llu */
{
	ROOM(b, 20);
	b->len += fmt_u64(b->p + b->len, v);
	return 0;
}

static int put_s64(struct buf *b, int64_t v)
{
	if (v < 0) {
		if (PUTS(b, "-") < 0)
			return -1;
		return put_u64(b, (uint64_t)0 - (uint64_t)v);
	}
	return put_u64(b, (uint64_t)v);
}

static const char HEXU[] = "0123456789ABCDEF";
static const char HEXL[] = "0123456789abcdef";

static int put_hex(struct buf *b, uint64_t v)	/* %x */
{
	char tmp[16];
	int i = sizeof(tmp);

	do {
		tmp[--i] = HEXL[v & 15];
		v >>= 4;
	} while (v);
	return put(b, tmp + i, sizeof(tmp) - i);
}

static int put_hex02(struct buf *b, uint64_t v)	/* %02x */
{
	if (v < 16 && PUTS(b, "0") < 0)
		return -1;
	return put_hex(b, v);
}

static int put_octal(struct buf *b, uint64_t v)	/* "0%o", or "0" */
{
	char tmp[24];
	int i = sizeof(tmp);

	while (v) {
		tmp[--i] = '0' + (v & 7);
		v >>= 3;
	}
	tmp[--i] = '0';
	return put(b, tmp + i, sizeof(tmp) - i);
}

static int put_hexbytes(struct buf *b, const uint8_t *s, size_t n)	/* uppercase, as bytes.hex().upper() */
{
	ROOM(b, 2 * n);
	char *o = b->p + b->len;
	for (size_t i = 0; i < n; i++) {
		o[2 * i] = HEXU[s[i] >> 4];
		o[2 * i + 1] = HEXU[s[i] & 15];
	}
	b->len += 2 * n;
	return 0;
}

static int put_dev(struct buf *b, uint32_t dev)	/* MAJOR:MINOR of a kernel dev_t, %02x:%02x */
{
	if (put_hex02(b, dev >> 20) < 0 || PUTS(b, ":") < 0)
		return -1;
	return put_hex02(b, dev & 0xFFFFF);
}

/*
 * repr() of a float, as json writes "time": the shortest decimal that reads back as the same
 * double, the nearer one of two, a tie to an even last digit (dtoa's mode 0). Done here in 128-bit
 * integers for the doubles event times are (2^22 <= t < 2^53, exponent -30..0): there the
 * value is m * 5^k units of 10^-k, all exact. 0 for others: the caller uses Python's dtoa.
 */
typedef unsigned __int128 u128;
static u128 POW10[39];

static void init_pow10(void)
{
	POW10[0] = 1;
	for (int i = 1; i < 39; i++)
		POW10[i] = POW10[i - 1] * 10;
}

static int fast_repr(double t, char *out)
{
	uint64_t bits, m;
	int bexp, e, k;

	memcpy(&bits, &t, sizeof(bits));
	bexp = (bits >> 52) & 0x7FF;
	if ((bits >> 63) || bexp == 0 || bexp == 0x7FF)
		return 0;
	m = (bits & ((1ull << 52) - 1)) | (1ull << 52);
	e = bexp - 1075;	/* t = m * 2^e */
	if (e > 0 || e < -30)
		return 0;
	k = -e;
	u128 p5 = 1;
	for (int i = 0; i < k; i++)
		p5 *= 5;
	/* in quarters of 10^-k: the value, and the halfway points to the doubles beside it */
	u128 T = (u128)m * p5 * 4;
	u128 hi = T + 2 * p5;
	u128 lo = m == (1ull << 52) ? T - p5 : T - 2 * p5;	/* the double below is in the binade below */
	int inclusive = !(m & 1);	/* halfway reads back to the even mantissa */
	u128 best = T;
	int j = (int)(k * 0.69897000433601880479);	/* floor(log10(5^k)): a step that fits */
	int found_any = 0;

	for (;;) {
		if (j < 0 || j > 37)
			break;
		u128 S = POW10[j] * 4;
		if (S > hi)
			break;
		u128 q = T / S, c = q * S, c2 = c + S;
		int ok1 = inclusive ? c >= lo : c > lo;
		int ok2 = inclusive ? c2 <= hi : c2 < hi;
		u128 pick;
		if (ok1 && ok2) {
			u128 d1 = T - c, d2 = c2 - T;
			pick = d1 < d2 ? c : d2 < d1 ? c2 : (q & 1) ? c2 : c;
		} else if (ok1 || ok2) {
			pick = ok1 ? c : c2;
		} else {
			if (found_any)
				break;	/* the last step that had one is the shortest */
			j--;	/* none at this step: a smaller one */
			continue;
		}
		best = pick;
		found_any = 1;
		j++;
	}
	if (!found_any)
		return 0;
	/* best / 4 is the decimal: q * 10^jf units of 10^-k, jf the last step that had one */
	int jf = j - 1;
	uint64_t q = (uint64_t)(best / 4 / POW10[jf]);	/* at most 17 digits: fits */
	int n;
	if (jf >= k) {	/* a whole number */
		n = fmt_u64(out, q * (uint64_t)POW10[jf - k]);
		memcpy(out + n, ".0", 3);
		return n + 2;
	}
	int fd = k - jf;	/* digits after the point */
	if (fd > 19)
		return 0;
	uint64_t scale = (uint64_t)POW10[fd];
	n = fmt_u64(out, q / scale);
	out[n++] = '.';
	uint64_t frac = q % scale;
	char digits[20];
	for (int i = fd - 1; i >= 0; i--, frac /= 10)
		digits[i] = '0' + frac % 10;
	while (fd > 1 && digits[fd - 1] == '0')
		fd--;
	memcpy(out + n, digits, fd);
	n += fd;
	out[n] = 0;
	return n;
}

/* -- text a traced process controls ------------------------------------- */

/* audit_string_contains_control(): a quote, a space or control byte, or anything above 0x7e */
static int needs_hex(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '"')
			return 1;
	return 0;
}

/* audit_text.untrusted(): "(null)" for none, quoted, or uppercase hex */
static int put_untrusted(struct buf *b, const uint8_t *s, size_t n, int present)
{
	if (!present)
		return PUTS(b, "(null)");
	if (needs_hex(s, n))
		return put_hexbytes(b, s, n);
	ROOM(b, n + 2);
	b->p[b->len++] = '"';
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len++] = '"';
	return 0;
}

/* Length of the valid UTF-8 sequence at s (what Python's strict decoder accepts), 0 when invalid;
 * *cp the code point. */
static size_t utf8_char(const uint8_t *s, size_t n, uint32_t *cp)
{
	uint8_t c = s[0];

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		if (n < 2 || (s[1] & 0xC0) != 0x80)
			return 0;
		*cp = (c & 0x1F) << 6 | (s[1] & 0x3F);
		return 2;
	}
	if (c >= 0xE0 && c <= 0xEF) {
		if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F))	/* overlong, surrogate */
			return 0;
		*cp = (c & 0x0F) << 12 | (s[1] & 0x3F) << 6 | (s[2] & 0x3F);
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))	/* overlong, > U+10FFFF */
			return 0;
		*cp = (c & 0x07) << 18 | (s[1] & 0x3F) << 12 | (s[2] & 0x3F) << 6 | (s[3] & 0x3F);
		return 4;
	}
	return 0;
}

static int valid_utf8(const uint8_t *s, size_t n)
{
	uint32_t cp;

	for (size_t i = 0; i < n;) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		size_t k = utf8_char(s + i, n - i, &cp);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

static int put_u_escape(struct buf *b, uint32_t u)
{
	ROOM(b, 6);
	char *o = b->p + b->len;
	o[0] = '\\';
	o[1] = 'u';
	o[2] = HEXL[(u >> 12) & 15];
	o[3] = HEXL[(u >> 8) & 15];
	o[4] = HEXL[(u >> 4) & 15];
	o[5] = HEXL[u & 15];
	b->len += 6;
	return 0;
}

/* A JSON string of valid UTF-8 bytes, as json's ensure_ascii encoder writes it */
static int put_json_utf8(struct buf *b, const uint8_t *s, size_t n)
{
	uint32_t cp;

	ROOM(b, n + 2);
	b->p[b->len++] = '"';
	for (size_t i = 0; i < n;) {
		uint8_t c = s[i];
		if (c >= 0x20 && c <= 0x7e && c != '"' && c != '\\') {
			size_t j = i + 1;
			while (j < n && s[j] >= 0x20 && s[j] <= 0x7e && s[j] != '"' && s[j] != '\\')
				j++;
			if (put(b, (const char *)s + i, j - i) < 0)
				return -1;
			i = j;
			continue;
		}
		if (c < 0x80) {
			const char *esc = NULL;
			switch (c) {
			case '"': esc = "\\\""; break;
			case '\\': esc = "\\\\"; break;
			case '\n': esc = "\\n"; break;
			case '\r': esc = "\\r"; break;
			case '\t': esc = "\\t"; break;
			case '\b': esc = "\\b"; break;
			case '\f': esc = "\\f"; break;
			}
			if (esc ? put(b, esc, 2) < 0 : put_u_escape(b, c) < 0)
				return -1;
			i++;
			continue;
		}
		i += utf8_char(s + i, n - i, &cp);	/* validated by the caller */
		if (cp > 0xFFFF) {
			cp -= 0x10000;
			if (put_u_escape(b, 0xD800 | (cp >> 10)) < 0 || put_u_escape(b, 0xDC00 | (cp & 0x3FF)) < 0)
				return -1;
		} else if (put_u_escape(b, cp) < 0) {
			return -1;
		}
	}
	return PUTS(b, "\"");
}

/* jsonl.text(): a string when the bytes are UTF-8, else {"hex": "..."}; null when absent */
static int put_json_text(struct buf *b, const uint8_t *s, size_t n, int present)
{
	if (!present)
		return PUTS(b, "null");
	if (valid_utf8(s, n))
		return put_json_utf8(b, s, n);
	if (PUTS(b, "{\"hex\":\"") < 0 || put_hexbytes(b, s, n) < 0)
		return -1;
	return PUTS(b, "\"}");
}

/* -- one event, decoded ------------------------------------------------- */

struct text {
	const uint8_t *p;
	uint32_t n;
	uint8_t present;
};

struct event {
	struct ba_record h;
	struct text exe, cwd, proctitle, sockaddr, comm;
	uint8_t setproctitle;
	struct text paths[MAX_PATHS];
	uint32_t slots[MAX_PATHS];
	int npaths;
	const struct ba_obj *objs[MAX_OBJS];
	int nobjs;
	int has_execve, has_caps;
	const char *cut[MAX_CUT];	/* names of what was cut, in item order (path items: "path") */
	int cut_path[MAX_CUT];		/* the PATH item's index for a "path" entry */
	int ncut;
	int cut_overflow;		/* more than MAX_CUT: handed back */
	size_t tty_len;
};

/* one PATH record to write: kernel audit's names-list entry */
struct path_item {
	struct text name;
	const struct ba_obj *obj;	/* its inode fields, or none */
	const char *nametype;
};

/*
 * The text of what repeats from event to event (a process's identity, its cwd, its command line),
 * kept for the last value seen: the events of a batch mostly come from few processes.
 */
struct memo {
	char *key, *val;
	size_t klen, kcap, vlen, vcap;
	int valid;
};

static int memo_hit(const struct memo *m, const void *key, size_t n)
{
	return m->valid && m->klen == n && !memcmp(m->key, key, n);
}

/* keeps the text just written at b->p + start as the value of key */
static int memo_keep(struct memo *m, const void *key, size_t n, const struct buf *b, size_t start)
{
	size_t vn = b->len - start;

	m->valid = 0;
	if (n > m->kcap) {
		char *p = PyMem_Realloc(m->key, n);
		if (!p)
			return 0;	/* not kept: no harm */
		m->key = p;
		m->kcap = n;
	}
	if (vn > m->vcap) {
		char *p = PyMem_Realloc(m->val, vn);
		if (!p)
			return 0;
		m->val = p;
		m->vcap = vn;
	}
	memcpy(m->key, key, n);
	memcpy(m->val, b->p + start, vn);
	m->klen = n;
	m->vlen = vn;
	m->valid = 1;
	return 0;
}

static void memo_free(struct memo *m)
{
	PyMem_Free(m->key);
	PyMem_Free(m->val);
	memset(m, 0, sizeof(*m));
}

/* what an event's identity text depends on (the exe's bytes follow it in the key) */
struct ident {
	__u32 ppid, pid, tid, auid, uid, gid, euid, suid, fsuid, egid, sgid, fsgid, ses;
	__u32 exe_len;
	__u16 rule;
	__u8 exe_present;
	__u8 pad;
	char comm[16], tty[16];
};

static size_t ident_key(const struct event *e, int with_tid, char *out)
{
	struct ident id;
	const struct ba_record *h = &e->h;

	memset(&id, 0, sizeof(id));
	id.ppid = h->ppid, id.pid = h->pid, id.tid = with_tid ? h->tid : 0, id.auid = h->auid;
	id.uid = h->uid, id.gid = h->gid, id.euid = h->euid, id.suid = h->suid, id.fsuid = h->fsuid;
	id.egid = h->egid, id.sgid = h->sgid, id.fsgid = h->fsgid, id.ses = h->ses;
	id.rule = h->rule;
	id.exe_present = e->exe.present;
	id.exe_len = e->exe.present ? e->exe.n : 0;
	memcpy(id.comm, h->comm, 16);
	memcpy(id.tty, h->tty, 16);
	memcpy(out, &id, sizeof(id));
	memcpy(out + sizeof(id), e->exe.p, id.exe_len);
	return sizeof(id) + id.exe_len;
}

/* -- the Formatter type -------------------------------------------------- */

typedef struct {
	PyObject_HEAD
	int json;
	int decide;		/* user space finishes some decisions: such samples are handed back */
	double wall;		/* CLOCK_REALTIME - CLOCK_MONOTONIC, the decoder's */
	PyObject *keys;		/* tuple per rule: the key as written (bytes); one more for "no rule" */
	PyObject *call_info;	/* callable (arch, nr) -> (name json bytes, getname order tuple or None, path args) */
	PyObject *calls;	/* dict arch << 32 | nr -> call_info's answer */
	unsigned long long serial;
	unsigned long long last_call_key;	/* arch << 32 | nr + 1 of last_call, 0: none */
	struct call {
		const char *name_json;	/* the syscall's name, a JSON string */
		Py_ssize_t name_json_len;
		PyObject *order;	/* GETNAME_ORDER's slots, or None */
		PyObject *path_args;	/* PATH_ARGS: the argument index of each name slot */
	} last_call;		/* borrowed from `calls`, which keeps every answer */
	PyObject *hand_back;	/* callable (raw sample, serial) -> its text (bytes), by the Python reference */
	int fd;			/* where the text goes, or -1: kept for take() */
	unsigned long long written;	/* bytes written to fd */
	int regular;		/* fd is a regular file: a write error cuts it back to a whole event */
	int behind_ok;		/* and write_behind() works on it */
	int write_errno;	/* the first write error: from then on text is counted, not written */
	unsigned long long unwritten;	/* events formatted but never written (a write error) */
	size_t *ends;		/* where each event in `out` ends: a write error cuts the file there */
	size_t nends, ends_cap;
	unsigned long long behind;	/* bytes of `written` started to disk */
	off_t file_start;	/* fd's offset when the formatter took it */
	struct buf out;		/* text not yet written */
	struct memo ident, cwd, proctitle, args;	/* the last text of each, and what it was made from */
	char serial_txt[24];	/* serial_of's decimal text: the next serial is one more */
	int serial_len;
	unsigned long long serial_of;
	char *keybuf;		/* scratch for a memo key: a struct ident and a name */
	/* the batch being read */
	PyObject *next_seq;	/* the decoder's dict cpu -> next expected seq */
	long long cur_cpu;
	unsigned long long expect;
	unsigned long long delivered, malformed, gaps, cut;
	unsigned long long *by_rule;	/* formatted events per keys entry */
} Formatter;

static void Formatter_dealloc(Formatter *self)
{
	Py_XDECREF(self->keys);
	Py_XDECREF(self->call_info);
	Py_XDECREF(self->calls);
	Py_XDECREF(self->hand_back);
	PyMem_Free(self->out.p);
	memo_free(&self->ident);
	memo_free(&self->cwd);
	memo_free(&self->proctitle);
	memo_free(&self->args);
	PyMem_Free(self->keybuf);
	PyMem_Free(self->ends);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Formatter_init(Formatter *self, PyObject *args, PyObject *kw)
{
	static char *names[] = {"json", "wall", "serial", "keys", "call_info", "decide", "hand_back", "fd", NULL};
	int json, decide, fd = -1;
	double wall;
	unsigned long long serial;
	PyObject *keys, *call_info, *hand_back;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "pdKO!OpO|i", names, &json, &wall, &serial, &PyTuple_Type, &keys,
					 &call_info, &decide, &hand_back, &fd))
		return -1;
	if (PyTuple_GET_SIZE(keys) < 1) {
		PyErr_SetString(PyExc_ValueError, "keys: one entry per rule and one for none");
		return -1;
	}
	for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(keys); i++)
		if (!PyBytes_Check(PyTuple_GET_ITEM(keys, i))) {
			PyErr_SetString(PyExc_TypeError, "keys: bytes");
			return -1;
		}
	self->json = json;
	self->decide = decide;
	self->wall = wall;
	self->serial = serial;
	Py_INCREF(keys);
	Py_XSETREF(self->keys, keys);
	Py_INCREF(call_info);
	Py_XSETREF(self->call_info, call_info);
	Py_INCREF(hand_back);
	Py_XSETREF(self->hand_back, hand_back);
	self->fd = fd;
	self->written = self->behind = self->unwritten = 0;
	self->write_errno = 0;
	self->nends = 0;
	{
		struct stat st;
		self->regular = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
		self->file_start = self->regular ? lseek(fd, 0, SEEK_CUR) : 0;
		if (self->file_start < 0)
			self->regular = 0;
		self->behind_ok = self->regular;
	}
	if (!self->keybuf && !(self->keybuf = PyMem_Malloc(sizeof(struct ident) + BA_EVENT_MAX + 8))) {
		PyErr_NoMemory();
		return -1;
	}
	memo_free(&self->ident);	/* a re-init may change the format */
	memo_free(&self->cwd);
	memo_free(&self->proctitle);
	memo_free(&self->args);
	self->serial_len = 0;
	Py_XSETREF(self->calls, PyDict_New());
	return self->calls ? 0 : -1;
}

static int lookup_call(Formatter *self, uint32_t arch, uint32_t nr, struct call *c)
{
	unsigned long long id = (unsigned long long)arch << 32 | nr;
	PyObject *key, *info;

	if (self->last_call_key == id + 1) {
		*c = self->last_call;
		return 0;
	}
	key = PyLong_FromUnsignedLongLong(id);
	if (!key)
		return -1;
	info = PyDict_GetItemWithError(self->calls, key);
	if (!info) {
		if (PyErr_Occurred()) {
			Py_DECREF(key);
			return -1;
		}
		info = PyObject_CallFunction(self->call_info, "kk", (unsigned long)arch, (unsigned long)nr);
		if (!info || !PyTuple_Check(info) || PyTuple_GET_SIZE(info) != 3 ||
		    !PyBytes_Check(PyTuple_GET_ITEM(info, 0)) || !PyTuple_Check(PyTuple_GET_ITEM(info, 2))) {
			if (info && !PyErr_Occurred())
				PyErr_SetString(PyExc_TypeError, "call_info: (bytes, tuple or None, tuple)");
			Py_XDECREF(info);
			Py_DECREF(key);
			return -1;
		}
		if (PyDict_SetItem(self->calls, key, info) < 0) {
			Py_DECREF(info);
			Py_DECREF(key);
			return -1;
		}
		Py_DECREF(info);	/* the dict holds it */
	}
	Py_DECREF(key);
	c->name_json = PyBytes_AS_STRING(PyTuple_GET_ITEM(info, 0));
	c->name_json_len = PyBytes_GET_SIZE(PyTuple_GET_ITEM(info, 0));
	c->order = PyTuple_GET_ITEM(info, 1);
	c->path_args = PyTuple_GET_ITEM(info, 2);
	self->last_call = *c;
	self->last_call_key = id + 1;
	return 0;
}

/* -- sequence accounting (reader.RecordDecoder._decode's) ---------------- */

static int seq_load(Formatter *self, uint32_t cpu, uint64_t seq)
{
	PyObject *k, *v;

	if (self->cur_cpu >= 0) {
		k = PyLong_FromLongLong(self->cur_cpu);
		v = PyLong_FromUnsignedLongLong(self->expect);
		if (!k || !v || PyDict_SetItem(self->next_seq, k, v) < 0) {
			Py_XDECREF(k);
			Py_XDECREF(v);
			return -1;
		}
		Py_DECREF(k);
		Py_DECREF(v);
	}
	self->cur_cpu = cpu;
	k = PyLong_FromUnsignedLong(cpu);
	if (!k)
		return -1;
	v = PyDict_GetItemWithError(self->next_seq, k);
	Py_DECREF(k);
	if (!v) {
		if (PyErr_Occurred())
			return -1;
		self->expect = seq;	/* a CPU's first record sets its start */
		return 0;
	}
	self->expect = PyLong_AsUnsignedLongLong(v);
	return PyErr_Occurred() ? -1 : 0;
}

/* -- items ----------------------------------------------------------------- */

enum { OK = 0, MALFORMED = 1, HAND_BACK = 2 };

static void add_cut(struct event *e, const char *name, int path)
{
	if (e->ncut < MAX_CUT) {
		e->cut[e->ncut] = name;
		e->cut_path[e->ncut++] = path;
	} else {
		e->cut_overflow = 1;
	}
}

static int has_cut(const struct event *e, const char *name)
{
	for (int i = 0; i < e->ncut; i++)
		if (!strcmp(e->cut[i], name))
			return 1;
	return 0;
}

/* reader.RecordDecoder._items()'s checks and what it keeps; the event's strings point into raw */
static int parse_items(const uint8_t *raw, uint32_t size, struct event *e)
{
	uint32_t off = BA_RECORD_HDR_SIZE;
	int back = 0;

	for (unsigned i = 0; i < e->h.n_items; i++) {
		struct ba_item it;
		if (off + sizeof(it) > size)
			return MALFORMED;
		memcpy(&it, raw + off, sizeof(it));
		uint32_t start = off + sizeof(it);
		if ((uint64_t)start + it.len > size)
			return MALFORMED;
		off = start + ((it.len + 7) & ~7u);
		const uint8_t *payload = raw + start;
		struct text t = {payload, it.len, !(it.flags & BA_ITEM_FAULT)};
		const char *name;

		switch (it.kind) {
		case BA_ITEM_EXE:
			e->exe = t;
			name = "exe";
			break;
		case BA_ITEM_CWD:
			e->cwd = t;
			name = "cwd";
			break;
		case BA_ITEM_PATH:
			if (e->npaths >= MAX_PATHS) {
				back = 1;
				continue;
			}
			if (it.flags)
				add_cut(e, "path", e->npaths);
			e->slots[e->npaths] = it.aux;
			e->paths[e->npaths++] = t;
			continue;
		case BA_ITEM_OBJ: {
			struct ba_obj o;
			if (it.len < sizeof(o))
				return MALFORMED;
			memcpy(&o, payload, sizeof(o));
			if ((uint64_t)sizeof(o) + o.name_len > it.len)
				return MALFORMED;
			if (e->nobjs < MAX_OBJS)
				e->objs[e->nobjs++] = (const struct ba_obj *)payload;	/* 8-aligned in the sample */
			else
				back = 1;
			if (it.flags && !has_cut(e, "objs"))
				add_cut(e, "objs", 0);
			continue;
		}
		case BA_ITEM_CAPS:
			if (it.len < sizeof(struct ba_caps))
				return MALFORMED;
			e->has_caps = 1;
			continue;
		case BA_ITEM_PROCTITLE:
			e->proctitle = t;
			e->proctitle.present = 1;
			e->setproctitle = it.aux != 0;
			name = "proctitle";
			break;
		case BA_ITEM_EXECVE:
			e->has_execve = 1;
			name = "argv";
			break;
		case BA_ITEM_SOCKADDR:
			e->sockaddr = t;
			e->sockaddr.present = 1;
			name = "sockaddr";
			break;
		default:
			return MALFORMED;
		}
		if (it.flags)
			add_cut(e, name, 0);
	}
	return back ? HAND_BACK : OK;
}

/* proctitle_rtrim(): what kernel audit logs of the argument bytes */
static struct text proctitle_rtrim(struct text t, int setproctitle)
{
	uint32_t n = t.n;

	if (setproctitle) {
		const uint8_t *nul = memchr(t.p, 0, n);
		if (nul)
			n = nul - t.p;
	}
#define PRINTABLE(c) ((c) >= 0x20 && (c) <= 0x7e)
	long end = (long)n - 1;
	while (end > 0 && !PRINTABLE(t.p[end]))
		end--;
	long k = end + 1;
	if (k > 0 && !PRINTABLE(t.p[k - 1]))
		k--;
#undef PRINTABLE
	t.n = k;
	return t;
}

/*
 * path_items() where no replay of the names list is needed: names alone (each an UNKNOWN item,
 * in getname order), or one name and its one lookup. HAND_BACK for the rest.
 */
static int simple_path_items(const struct event *e, const struct call *c, struct path_item *items, int *nitems)
{
	int listed = c->order != Py_None;

	*nitems = 0;
	if (!e->nobjs) {
		if (!e->npaths)
			return OK;
		if (e->npaths == 1 && e->slots[0] != BA_PATH_SUN && !listed) {
			items[0] = (struct path_item){e->paths[0], NULL, "UNKNOWN"};
			*nitems = 1;
			return OK;
		}
		/* _replay() without objects: the names in getname order (the last text of a slot), then
		 * the kernel's own names (a unix socket's path) */
		int slots_seen[MAX_PATHS], nslots = 0;
		if (listed) {
			for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(c->order); i++) {
				long s = PyLong_AsLong(PyTuple_GET_ITEM(c->order, i));
				slots_seen[nslots++] = (int)s;
				if (nslots == MAX_PATHS)
					break;
			}
		} else {
			for (int i = 0; i < e->npaths; i++) {	/* sorted distinct slots */
				if (e->slots[i] == BA_PATH_SUN)
					continue;
				int s = e->slots[i], at = nslots, dup = 0;
				for (int j = 0; j < nslots; j++)
					if (slots_seen[j] == s)
						dup = 1;
				if (dup)
					continue;
				while (at > 0 && slots_seen[at - 1] > s) {
					slots_seen[at] = slots_seen[at - 1];
					at--;
				}
				slots_seen[at] = s;
				nslots++;
			}
		}
		for (int j = 0; j < nslots; j++) {
			int last = -1;
			for (int i = 0; i < e->npaths; i++)
				if (e->slots[i] != BA_PATH_SUN && (int)e->slots[i] == slots_seen[j])
					last = i;
			if (last >= 0)
				items[(*nitems)++] = (struct path_item){e->paths[last], NULL, "UNKNOWN"};
		}
		for (int i = 0; i < e->npaths; i++)
			if (e->slots[i] == BA_PATH_SUN)
				items[(*nitems)++] = (struct path_item){e->paths[i], NULL, "UNKNOWN"};
		return OK;
	}
	if (e->nobjs == 1 && e->npaths == 1 && !listed) {
		const struct ba_obj *o = e->objs[0];
		uint32_t slot = e->slots[0];
		uint64_t mask = e->h.arch == BA_AUDIT_ARCH_I386 ? 0xFFFFFFFFull : ~0ull;
		if (o->op == BA_OBJ_INODE && o->flags == BA_OBJ_HAS_INODE && slot < PyTuple_GET_SIZE(c->path_args) &&
		    o->uptr) {
			long arg = PyLong_AsLong(PyTuple_GET_ITEM(c->path_args, slot));
			if (arg >= 0 && arg < BA_NARGS && (e->h.args[arg] & mask) == o->uptr) {
				items[0] = (struct path_item){e->paths[0], o, "NORMAL"};
				*nitems = 1;
				return OK;
			}
		}
	}
	return HAND_BACK;
}

/* -- audit text ------------------------------------------------------------ */

/* the current serial's decimal text: the last one's, plus one, mostly */
static const char *serial_text(Formatter *self, int *len)
{
	if (self->serial_len && self->serial == self->serial_of + 1) {
		int i = self->serial_len - 1;
		while (i >= 0 && self->serial_txt[i] == '9')
			self->serial_txt[i--] = '0';
		if (i >= 0) {
			self->serial_txt[i]++;
		} else {	/* 99..9 + 1: one digit more */
			memmove(self->serial_txt + 1, self->serial_txt, self->serial_len);
			self->serial_txt[0] = '1';
			self->serial_len++;
		}
	} else {
		self->serial_len = fmt_u64(self->serial_txt, self->serial);
	}
	self->serial_of = self->serial;
	*len = self->serial_len;
	return self->serial_txt;
}

static size_t proctitle_key(const struct event *e, char *out)
{
	out[0] = e->setproctitle;
	memcpy(out + 1, e->proctitle.p, e->proctitle.n);
	return 1 + e->proctitle.n;
}

static int put_msg(Formatter *self, struct buf *b, const char *type, size_t tlen, const char *head, size_t hlen)
{
	if (put(b, "type=", 5) < 0 || put(b, type, tlen) < 0)
		return -1;
	return put(b, head, hlen);
}

static int put_cut_list(struct buf *b, const struct event *e, int json)
{
	for (int i = 0; i < e->ncut; i++) {
		if (i && PUTS(b, ",") < 0)
			return -1;
		if (json && PUTS(b, "\"") < 0)
			return -1;
		if (put(b, e->cut[i], strlen(e->cut[i])) < 0)
			return -1;
		if (!strcmp(e->cut[i], "path") && put_u64(b, e->cut_path[i]) < 0)
			return -1;
		if (json && PUTS(b, "\"") < 0)
			return -1;
	}
	return 0;
}

static int format_audit(Formatter *self, const struct event *e, const struct path_item *items, int nitems,
			PyObject *key)
{
	struct buf *b = &self->out;
	const struct ba_record *h = &e->h;
	char head[80];
	double t = (double)h->enter_ns / 1e9 + self->wall;
	uint64_t secs = (uint64_t)t;	/* positive: the clocks' difference is the epoch's seconds */
	unsigned millis = (unsigned)((t - (double)secs) * 1000);
	int hlen = sizeof(" msg=audit(") - 1;

	/* " msg=audit(SECS.MMM:SERIAL): " */
	memcpy(head, " msg=audit(", hlen);
	hlen += fmt_u64(head + hlen, secs);
	head[hlen++] = '.';
	head[hlen++] = '0' + millis / 100 % 10;
	head[hlen++] = '0' + millis / 10 % 10;
	head[hlen++] = '0' + millis % 10;
	head[hlen++] = ':';
	int slen;
	const char *stxt = serial_text(self, &slen);
	memcpy(head + hlen, stxt, slen);
	hlen += slen;
	memcpy(head + hlen, "): ", 3);
	hlen += 3;

#define ID(name, field) (PUTS(b, " " name "=") < 0 || put_u64(b, h->field) < 0)
	if (put_msg(self, b, "SYSCALL", 7, head, hlen) < 0 || PUTS(b, "arch=") < 0 || put_hex(b, h->arch) < 0 ||
	    PUTS(b, " syscall=") < 0 || put_u64(b, h->syscall) < 0)
		return -1;
	if (h->per && (PUTS(b, " per=") < 0 || put_hex(b, h->per) < 0))
		return -1;
	int ok = h->exit < -4095 || h->exit >= 0;
	if ((ok ? PUTS(b, " success=yes exit=") : PUTS(b, " success=no exit=")) < 0 || put_s64(b, h->exit) < 0)
		return -1;
	/* " a0=.. a3=..": a loop's calls mostly pass the same */
	size_t astart = b->len;
	if (memo_hit(&self->args, h->args, 4 * sizeof(h->args[0]))) {
		if (put(b, self->args.val, self->args.vlen) < 0)
			return -1;
	} else {
		for (int i = 0; i < 4; i++) {
			char a[5] = {' ', 'a', '0' + i, '=', 0};
			if (put(b, a, 4) < 0 || put_hex(b, h->args[i]) < 0)
				return -1;
		}
		memo_keep(&self->args, h->args, 4 * sizeof(h->args[0]), b, astart);
	}
	if (PUTS(b, " items=") < 0 || put_u64(b, nitems) < 0)
		return -1;
	/* " ppid=... key=...": the process's, mostly as the event before */
	size_t klen = ident_key(e, 0, self->keybuf), start = b->len;
	if (memo_hit(&self->ident, self->keybuf, klen)) {
		if (put(b, self->ident.val, self->ident.vlen) < 0)
			return -1;
	} else {
		if (ID("ppid", ppid) || ID("pid", pid) || ID("auid", auid) || ID("uid", uid) || ID("gid", gid) ||
		    ID("euid", euid) || ID("suid", suid) || ID("fsuid", fsuid) || ID("egid", egid) || ID("sgid", sgid) ||
		    ID("fsgid", fsgid))
			return -1;
		if (PUTS(b, " tty=") < 0 || (e->tty_len ? put(b, h->tty, e->tty_len) : PUTS(b, "(none)")) < 0 ||
		    ID("ses", ses) || PUTS(b, " comm=") < 0 || put_untrusted(b, e->comm.p, e->comm.n, 1) < 0 ||
		    PUTS(b, " exe=") < 0 || put_untrusted(b, e->exe.p, e->exe.n, e->exe.present) < 0 ||
		    PUTS(b, " key=") < 0 || put(b, PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key)) < 0)
			return -1;
		memo_keep(&self->ident, self->keybuf, klen, b, start);
	}
#undef ID
	if (e->ncut && (PUTS(b, " bpfaudit_cut=") < 0 || put_cut_list(b, e, 0) < 0))
		return -1;
	if (PUTS(b, "\n") < 0)
		return -1;
	if (e->sockaddr.present && e->sockaddr.n) {
		if (put_msg(self, b, "SOCKADDR", 8, head, hlen) < 0 || PUTS(b, "saddr=") < 0 ||
		    put_hexbytes(b, e->sockaddr.p, e->sockaddr.n) < 0 || PUTS(b, "\n") < 0)
			return -1;
	}
	if (e->cwd.present) {	/* an unreadable cwd (FAULT) is no record */
		if (put_msg(self, b, "CWD", 3, head, hlen) < 0)
			return -1;
		start = b->len;
		if (memo_hit(&self->cwd, e->cwd.p, e->cwd.n)) {
			if (put(b, self->cwd.val, self->cwd.vlen) < 0)
				return -1;
		} else {
			if (PUTS(b, "cwd=") < 0 || put_untrusted(b, e->cwd.p, e->cwd.n, 1) < 0 || PUTS(b, "\n") < 0)
				return -1;
			memo_keep(&self->cwd, e->cwd.p, e->cwd.n, b, start);
		}
	}
	for (int i = 0; i < nitems; i++) {
		const struct path_item *p = &items[i];
		if (put_msg(self, b, "PATH", 4, head, hlen) < 0 || PUTS(b, "item=") < 0 || put_u64(b, i) < 0 ||
		    PUTS(b, " name=") < 0 || put_untrusted(b, p->name.p, p->name.n, p->name.present) < 0)
			return -1;
		if (p->obj) {
			const struct ba_obj *o = p->obj;
			if (PUTS(b, " inode=") < 0 || put_u64(b, o->ino) < 0 || PUTS(b, " dev=") < 0 ||
			    put_dev(b, o->dev) < 0 || PUTS(b, " mode=") < 0 || put_octal(b, o->mode) < 0 ||
			    PUTS(b, " ouid=") < 0 || put_u64(b, o->uid) < 0 || PUTS(b, " ogid=") < 0 ||
			    put_u64(b, o->gid) < 0 || PUTS(b, " rdev=") < 0 || put_dev(b, o->rdev) < 0)
				return -1;
		}
		if (PUTS(b, " nametype=") < 0 || put(b, p->nametype, strlen(p->nametype)) < 0 ||
		    PUTS(b, " cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0\n") < 0)
			return -1;
	}
	if (e->proctitle.present) {
		if (put_msg(self, b, "PROCTITLE", 9, head, hlen) < 0)
			return -1;
		klen = proctitle_key(e, self->keybuf);
		start = b->len;
		if (memo_hit(&self->proctitle, self->keybuf, klen)) {
			if (put(b, self->proctitle.val, self->proctitle.vlen) < 0)
				return -1;
		} else {
			struct text pt = proctitle_rtrim(e->proctitle, e->setproctitle);
			if (PUTS(b, "proctitle=") < 0)
				return -1;
			/* an empty command line: audit_log_proctitle()'s "(null)" placeholder */
			if ((pt.n ? put_untrusted(b, pt.p, pt.n, 1) : PUTS(b, "\"(null)\"")) < 0)
				return -1;
			if (PUTS(b, "\n") < 0)
				return -1;
			memo_keep(&self->proctitle, self->keybuf, klen, b, start);
		}
	}
	return 0;
}

/* -- JSON lines -------------------------------------------------------------- */

/* jsonl.decode_sockaddr(); inet6 is handed back before this is reached */
static int put_json_sockaddr(struct buf *b, const struct text *s)
{
	if (s->n < 2)
		return PUTS(b, "{\"family\":null}");
	uint16_t family;
	memcpy(&family, s->p, 2);	/* sa_family_t, host order */
	if (family == 2 && s->n >= 8) {	/* AF_INET */
		char tmp[64];
		int n = snprintf(tmp, sizeof(tmp), "{\"family\":\"inet\",\"addr\":\"%u.%u.%u.%u\",\"port\":%u}", s->p[4],
				 s->p[5], s->p[6], s->p[7], (unsigned)s->p[2] << 8 | s->p[3]);
		return put(b, tmp, n);
	}
	if (family == 1) {	/* AF_UNIX */
		const uint8_t *path = s->p + 2;
		size_t n = s->n - 2;
		if (PUTS(b, "{\"family\":\"local\",\"path\":") < 0)
			return -1;
		if (n && path[0] == 0) {	/* abstract: "@" and every byte of addrlen */
			uint8_t *tmp = PyMem_Malloc(n);
			if (!tmp) {
				PyErr_NoMemory();
				return -1;
			}
			tmp[0] = '@';
			memcpy(tmp + 1, path + 1, n - 1);
			int r = put_json_text(b, tmp, n, 1);
			PyMem_Free(tmp);
			if (r < 0)
				return -1;
		} else {
			const uint8_t *nul = memchr(path, 0, n);
			if (put_json_text(b, path, nul ? (size_t)(nul - path) : n, 1) < 0)
				return -1;
		}
		return PUTS(b, "}");
	}
	if (PUTS(b, "{\"family\":") < 0 || put_u64(b, family) < 0)
		return -1;
	return PUTS(b, "}");
}

static int format_json(Formatter *self, const struct event *e, const struct path_item *items, int nitems,
		       PyObject *key, const struct call *c)
{
	struct buf *b = &self->out;
	const struct ba_record *h = &e->h;
	double t = (double)h->enter_ns / 1e9 + self->wall;
	char fast[48];
	int n = fast_repr(t, fast);

	if (PUTS(b, "{\"time\":") < 0)
		return -1;
	if (n) {
		if (put(b, fast, n) < 0)
			return -1;
	} else {
		char *time_repr = PyOS_double_to_string(t, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
		if (!time_repr)
			return -1;
		int r = put(b, time_repr, strlen(time_repr));
		PyMem_Free(time_repr);
		if (r < 0)
			return -1;
	}
#define NUM(name, value) (PUTS(b, ",\"" name "\":") < 0 || put_u64(b, value) < 0)
	int slen;
	const char *stxt = serial_text(self, &slen);
	if (PUTS(b, ",\"serial\":") < 0 || put(b, stxt, slen) < 0 || NUM("arch", h->arch) ||
	    NUM("syscall", h->syscall) ||
	    PUTS(b, ",\"syscall_name\":") < 0 || put(b, c->name_json, c->name_json_len) < 0)
		return -1;
	int ok = h->exit < -4095 || h->exit >= 0;
	if ((ok ? PUTS(b, ",\"success\":true,\"exit\":") : PUTS(b, ",\"success\":false,\"exit\":")) < 0 ||
	    put_s64(b, h->exit) < 0)
		return -1;
	size_t astart = b->len;
	if (memo_hit(&self->args, h->args, sizeof(h->args))) {
		if (put(b, self->args.val, self->args.vlen) < 0)
			return -1;
	} else {
		if (PUTS(b, ",\"args\":[") < 0)
			return -1;
		for (int i = 0; i < BA_NARGS; i++)
			if ((i && PUTS(b, ",") < 0) || put_u64(b, h->args[i]) < 0)
				return -1;
		if (PUTS(b, "]") < 0)
			return -1;
		memo_keep(&self->args, h->args, sizeof(h->args), b, astart);
	}
	/* "ppid" .. "rule": the process's, mostly as the event before */
	size_t klen = ident_key(e, 1, self->keybuf), start = b->len;
	if (memo_hit(&self->ident, self->keybuf, klen)) {
		if (put(b, self->ident.val, self->ident.vlen) < 0)
			return -1;
	} else {
		if (NUM("ppid", h->ppid) || NUM("pid", h->pid) || NUM("tid", h->tid) || NUM("auid", h->auid) ||
		    NUM("uid", h->uid) || NUM("gid", h->gid) || NUM("euid", h->euid) || NUM("suid", h->suid) ||
		    NUM("fsuid", h->fsuid) || NUM("egid", h->egid) || NUM("sgid", h->sgid) || NUM("fsgid", h->fsgid) ||
		    NUM("ses", h->ses))
			return -1;
		if (PUTS(b, ",\"tty\":") < 0 ||
		    (e->tty_len ? put_json_utf8(b, (const uint8_t *)h->tty, e->tty_len) : PUTS(b, "\"(none)\"")) < 0 ||
		    PUTS(b, ",\"comm\":") < 0 || put_json_text(b, e->comm.p, e->comm.n, 1) < 0 ||
		    PUTS(b, ",\"exe\":") < 0 || put_json_text(b, e->exe.p, e->exe.n, e->exe.present) < 0 ||
		    PUTS(b, ",\"key\":") < 0 || put(b, PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key)) < 0 ||
		    NUM("rule", h->rule))
			return -1;
		memo_keep(&self->ident, self->keybuf, klen, b, start);
	}
	if (PUTS(b, ",\"paths\":[") < 0)
		return -1;
	for (int i = 0; i < e->npaths; i++)
		if ((i && PUTS(b, ",") < 0) || put_json_text(b, e->paths[i].p, e->paths[i].n, e->paths[i].present) < 0)
			return -1;
	if (PUTS(b, "]") < 0 || NUM("enter_ns", h->enter_ns) || NUM("exit_ns", h->exit_ns) || NUM("cpu", h->cpu) ||
	    NUM("seq", h->seq) || NUM("per", h->per) || PUTS(b, ",\"cwd\":") < 0)
		return -1;
	if (!e->cwd.present) {
		if (PUTS(b, "null") < 0)
			return -1;
	} else if (memo_hit(&self->cwd, e->cwd.p, e->cwd.n)) {
		if (put(b, self->cwd.val, self->cwd.vlen) < 0)
			return -1;
	} else {
		start = b->len;
		if (put_json_text(b, e->cwd.p, e->cwd.n, 1) < 0)
			return -1;
		memo_keep(&self->cwd, e->cwd.p, e->cwd.n, b, start);
	}
	if (PUTS(b, ",\"proctitle\":") < 0)
		return -1;
	klen = e->proctitle.present ? proctitle_key(e, self->keybuf) : 0;
	if (!e->proctitle.present) {
		if (PUTS(b, "null") < 0)
			return -1;
	} else if (memo_hit(&self->proctitle, self->keybuf, klen)) {
		if (put(b, self->proctitle.val, self->proctitle.vlen) < 0)
			return -1;
	} else {
		start = b->len;
		struct text pt = proctitle_rtrim(e->proctitle, e->setproctitle);
		const uint8_t *p = pt.p, *end = pt.p + pt.n;
		if (PUTS(b, "[") < 0)
			return -1;
		for (;;) {	/* its NUL-separated parts */
			const uint8_t *nul = memchr(p, 0, end - p);
			const uint8_t *stop = nul ? nul : end;
			if (put_json_text(b, p, stop - p, 1) < 0)
				return -1;
			if (!nul)
				break;
			if (PUTS(b, ",") < 0)
				return -1;
			p = nul + 1;
		}
		if (PUTS(b, "]") < 0)
			return -1;
		memo_keep(&self->proctitle, self->keybuf, klen, b, start);
	}
	if (PUTS(b, ",\"argv\":null,\"argc\":0,\"saddr\":") < 0)
		return -1;
	if (!e->sockaddr.present) {
		if (PUTS(b, "null,\"sockaddr\":null") < 0)
			return -1;
	} else if (PUTS(b, "\"") < 0 || put_hexbytes(b, e->sockaddr.p, e->sockaddr.n) < 0 ||
		   PUTS(b, "\",\"sockaddr\":") < 0 || put_json_sockaddr(b, &e->sockaddr) < 0) {
		return -1;
	}
	if (PUTS(b, ",\"cut\":[") < 0 || put_cut_list(b, e, 1) < 0 || PUTS(b, "],\"path_items\":[") < 0)
		return -1;
	for (int i = 0; i < nitems; i++) {
		const struct path_item *p = &items[i];
		if ((i && PUTS(b, ",") < 0) || PUTS(b, "{\"name\":") < 0 ||
		    put_json_text(b, p->name.p, p->name.n, p->name.present) < 0 || PUTS(b, ",\"nametype\":\"") < 0 ||
		    put(b, p->nametype, strlen(p->nametype)) < 0 || PUTS(b, "\"") < 0)
			return -1;
		if (p->obj) {
			const struct ba_obj *o = p->obj;
			if (NUM("inode", o->ino) || PUTS(b, ",\"dev\":\"") < 0 || put_dev(b, o->dev) < 0 ||
			    PUTS(b, "\",\"mode\":\"") < 0 || put_octal(b, o->mode) < 0 || PUTS(b, "\"") < 0 ||
			    NUM("ouid", o->uid) || NUM("ogid", o->gid) || PUTS(b, ",\"rdev\":\"") < 0 ||
			    put_dev(b, o->rdev) < 0 || PUTS(b, "\"") < 0)
				return -1;
		}
		if (PUTS(b, "}") < 0)
			return -1;
	}
	if (PUTS(b, "],\"bprm_fcaps\":null,\"duration_ns\":") < 0)
		return -1;
	if (h->exit_ns >= h->enter_ns ? put_u64(b, h->exit_ns - h->enter_ns) < 0
				      : (PUTS(b, "-") < 0 || put_u64(b, h->enter_ns - h->exit_ns) < 0))
		return -1;
#undef NUM
	return PUTS(b, "}\n");
}

/* -- the batch ----------------------------------------------------------------- */

#define WRITE_AT (1 << 20)	/* text is written to fd in blocks of at least this much */
#define BEHIND (8 << 20)	/* a file's text is started to disk a chunk this size at a time */

/*
 * Write-behind for a regular file: each BEHIND bytes written are started to disk, and the
 * chunk before (whose writeback has had a chunk's time to finish) is waited for and dropped
 * from the page cache, as log writers do (PostgreSQL's *_flush_after). The trail reaches the
 * disk within two chunks, its pages are not left to crowd the page cache, and the freed pages
 * are the next ones written: measured, writing into pages the machine has not touched lately
 * costs the consumer up to 3x more (the copy into the page cache dominates at 1M records/s).
 */
static void write_behind(Formatter *self)
{
	while (self->written - self->behind >= BEHIND) {
		off_t start = self->file_start + self->behind;
		if (sync_file_range(self->fd, start, BEHIND, SYNC_FILE_RANGE_WRITE) < 0) {
			self->behind_ok = 0;	/* not a file this works on: never again */
			return;
		}
		if (self->behind >= BEHIND) {
			off_t prev = start - BEHIND;
			sync_file_range(self->fd, prev, BEHIND,
					SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
			posix_fadvise(self->fd, prev, BEHIND, POSIX_FADV_DONTNEED);
		}
		self->behind += BEHIND;
	}
}

/* The end of an event's text in `out`: where a write error may cut the file */
static int event_end(Formatter *self)
{
	if (self->fd < 0)
		return 0;
	if (self->nends == self->ends_cap) {
		size_t cap = self->ends_cap ? 2 * self->ends_cap : 4096;
		size_t *p = PyMem_Realloc(self->ends, cap * sizeof(*p));
		if (!p) {
			PyErr_NoMemory();
			return -1;
		}
		self->ends = p;
		self->ends_cap = cap;
	}
	self->ends[self->nends++] = self->out.len;
	return 0;
}

/*
 * A write failed after `done` bytes of `out`: the events wholly written stay, the file (a
 * regular one) is cut back to the end of the last of them, and the rest are counted unwritten.
 * Text formatted after this is counted, never written (write_errno says why).
 */
static void write_failed(Formatter *self, size_t done, int err)
{
	size_t whole = 0, kept = 0;

	while (whole < self->nends && self->ends[whole] <= done)
		whole++;
	kept = whole ? self->ends[whole - 1] : 0;
	if (done > kept && self->regular)
		(void)!ftruncate(self->fd, self->file_start + self->written + kept);	/* no half event */
	self->written += kept;
	self->unwritten += self->nends - whole;
	self->write_errno = err;
	self->out.len = 0;
	self->nends = 0;
}

/*
 * Writes the buffered text to fd, all of it (a signal's EINTR retried once its handler ran).
 * A write error does not raise: it is kept in write_errno for the caller to report, and the
 * events not written are counted (write_failed()).
 */
static int write_out(Formatter *self)
{
	size_t done = 0;

	if (self->write_errno) {	/* failed before: counted, not written */
		self->unwritten += self->nends;
		self->out.len = 0;
		self->nends = 0;
		return 0;
	}
	while (done < self->out.len) {
		ssize_t n;
		Py_BEGIN_ALLOW_THREADS
		n = write(self->fd, self->out.p + done, self->out.len - done);
		Py_END_ALLOW_THREADS
		if (n < 0) {
			if (errno == EINTR) {
				if (PyErr_CheckSignals() < 0)
					return -1;
				continue;
			}
			write_failed(self, done, errno);
			return 0;
		}
		done += n;
	}
	self->written += done;
	self->out.len = 0;
	self->nends = 0;
	if (self->behind_ok) {
		Py_BEGIN_ALLOW_THREADS
		write_behind(self);
		Py_END_ALLOW_THREADS
	}
	return 0;
}

/* A sample the Python reference formats, in its place: hand_back(raw, serial) gives its text */
static int hand_back(Formatter *self, const uint8_t *raw, size_t n)
{
	PyObject *text = PyObject_CallFunction(self->hand_back, "y#K", (const char *)raw, (Py_ssize_t)n, self->serial);

	if (!text)
		return -1;
	if (!PyBytes_Check(text)) {
		Py_DECREF(text);
		PyErr_SetString(PyExc_TypeError, "hand_back: bytes");
		return -1;
	}
	Py_ssize_t len = PyBytes_GET_SIZE(text);
	int r = put(&self->out, PyBytes_AS_STRING(text), len);
	Py_DECREF(text);
	return r < 0 || (len && event_end(self) < 0) ? -1 : 0;	/* a filtered sample is no event */
}

/*
 * What every sample gets first (reader.RecordDecoder._decode's checks and accounting): counted
 * delivered, its size checked, its per-CPU sequence followed, its schema version and items
 * checked (every item inside the sample). MALFORMED (counted as such), or OK or HAND_BACK with
 * `e` filled, the sample then taking the next serial; -1 on an error raised.
 */
static int begin_sample(Formatter *self, const uint8_t *raw, size_t n, struct event *e)
{
	int r;

	self->delivered++;
	if (n < BA_RECORD_HDR_SIZE || n > BA_EVENT_MAX + 8) {
		self->malformed++;
		return MALFORMED;
	}
	memset(e, 0, offsetof(struct event, paths));
	e->npaths = e->nobjs = e->has_execve = e->has_caps = e->ncut = e->cut_overflow = 0;
	memcpy(&e->h, raw, sizeof(e->h));
	if ((long long)e->h.cpu != self->cur_cpu && seq_load(self, e->h.cpu, e->h.seq) < 0)
		return -1;
	if (e->h.seq > self->expect)
		self->gaps += e->h.seq - self->expect;
	self->expect = e->h.seq + 1;
	/* BPF submits only the bytes in use: every item must lie inside the sample */
	if (e->h.version != BA_SCHEMA_VERSION || e->h.size < BA_RECORD_HDR_SIZE || e->h.size > n) {
		self->malformed++;
		return MALFORMED;
	}
	r = parse_items(raw, e->h.size, e);
	if (r == MALFORMED) {
		self->malformed++;
		return MALFORMED;
	}
	self->serial++;
	return r;
}

static int one_sample(Formatter *self, const uint8_t *raw, size_t n)
{
	struct event e;
	struct call c;
	struct path_item items[MAX_PATHS + 1];
	int nitems = 0;
	size_t rollback;
	int r;

	r = begin_sample(self, raw, n, &e);
	if (r < 0 || r == MALFORMED)
		return r < 0 ? -1 : 0;
	if ((e.h.flags & BA_REC_OBJS_CUT) && !has_cut(&e, "objs"))
		add_cut(&e, "objs", 0);
	{
		const uint8_t *nul = memchr(e.h.comm, 0, sizeof(e.h.comm));
		e.comm = (struct text){(const uint8_t *)e.h.comm, nul ? (uint32_t)(nul - (const uint8_t *)e.h.comm) :
							     (uint32_t)sizeof(e.h.comm), 1};
		nul = memchr(e.h.tty, 0, sizeof(e.h.tty));
		e.tty_len = nul ? (size_t)(nul - (const uint8_t *)e.h.tty) : sizeof(e.h.tty);
	}
	int back = r == HAND_BACK || e.cut_overflow || e.has_execve || e.has_caps || ((e.h.flags & BA_REC_USERSPACE_CHECK) && self->decide);
	for (size_t i = 0; i < e.tty_len && !back; i++)
		back = (uint8_t)e.h.tty[i] >= 0x80;	/* the reference decodes it with "replace" */
	if (!back && self->json && e.sockaddr.present && e.sockaddr.n >= 24) {
		uint16_t family;
		memcpy(&family, e.sockaddr.p, 2);
		back = family == 10;	/* inet6: Python's ipaddress spells it */
	}
	if (!back) {
		if (lookup_call(self, e.h.arch, e.h.syscall, &c) < 0)
			return -1;
		back = simple_path_items(&e, &c, items, &nitems) != OK;
		if (!back && PyErr_Occurred())
			return -1;
	}
	if (back)
		return hand_back(self, raw, n);

	Py_ssize_t nkeys = PyTuple_GET_SIZE(self->keys) - 1;
	Py_ssize_t k = e.h.rule < nkeys ? e.h.rule : nkeys;
	PyObject *key = PyTuple_GET_ITEM(self->keys, k);
	rollback = self->out.len;
	r = self->json ? format_json(self, &e, items, nitems, key, &c) : format_audit(self, &e, items, nitems, key);
	if (r < 0) {
		self->out.len = rollback;
		return -1;
	}
	if (e.ncut)
		self->cut++;
	self->by_rule[k]++;
	return event_end(self);
}

/* -- a batch, walked ------------------------------------------------------------ */

typedef int (*sample_fn)(Formatter *self, void *ctx, const uint8_t *raw, size_t n);

/* Starts a batch: the decoder's per-CPU dict, zeroed counters, a count per keys entry */
static int batch_begin(Formatter *self, PyObject *next_seq)
{
	self->by_rule = PyMem_Calloc(PyTuple_GET_SIZE(self->keys), sizeof(*self->by_rule));
	if (!self->by_rule) {
		PyErr_NoMemory();
		return -1;
	}
	self->next_seq = next_seq;
	self->cur_cpu = -1;
	self->expect = 0;
	self->delivered = self->malformed = self->gaps = self->cut = 0;
	return 0;
}

/*
 * fn() on each sample of `source`: `count` (-1: all) equal-sized samples every `stride` bytes
 * from `offset` in a buffer (a last partial one as the reference's slicing gives it), or a
 * sequence of bytes-like samples. The samples' memory stays valid until the caller releases
 * *view and drops *seq (the tally keeps pointers into it).
 */
static int batch_walk(Formatter *self, PyObject *source, Py_ssize_t stride, Py_ssize_t offset, Py_ssize_t count,
		      sample_fn fn, void *ctx, Py_buffer *view, PyObject **seq)
{
	if (stride) {
		if (PyObject_GetBuffer(source, view, PyBUF_SIMPLE) < 0)
			return -1;
		if (stride <= offset) {
			PyErr_SetString(PyExc_ValueError, "stride must exceed offset");
			return -1;
		}
		const uint8_t *p = view->buf;
		Py_ssize_t len = view->len;
		if (count >= 0 && count * stride < len)
			len = count * stride;
		for (Py_ssize_t i = 0; i + stride <= len; i += stride)
			if (fn(self, ctx, p + i + offset, stride - offset) < 0)
				return -1;
		Py_ssize_t rest = len % stride;
		if (rest && fn(self, ctx, p + len - rest + (rest > offset ? offset : rest), rest > offset ? rest - offset : 0) < 0)
			return -1;
		return 0;
	}
	*seq = PySequence_Fast(source, "samples: a sequence of bytes");
	if (!*seq)
		return -1;
	for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(*seq); i++) {
		Py_buffer one;
		if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(*seq, i), &one, PyBUF_SIMPLE) < 0)
			return -1;
		int r = fn(self, ctx, one.buf, one.len);
		PyBuffer_Release(&one);	/* the object, held by *seq, keeps its bytes */
		if (r < 0)
			return -1;
	}
	return 0;
}

/* Ends a batch: the sequence state kept (whatever happened: the samples taken are counted);
 * the counters as (delivered, malformed, gaps, cut, by_rule), or NULL after an error */
static PyObject *batch_end(Formatter *self, int failed)
{
	PyObject *result = NULL;

	if (self->cur_cpu >= 0) {
		PyObject *k = PyLong_FromLongLong(self->cur_cpu), *v = PyLong_FromUnsignedLongLong(self->expect);
		if (!k || !v || PyDict_SetItem(self->next_seq, k, v) < 0)
			failed = 1;
		Py_XDECREF(k);
		Py_XDECREF(v);
	}
	if (!failed && self->by_rule) {
		PyObject *counts = PyList_New(PyTuple_GET_SIZE(self->keys));
		for (Py_ssize_t i = 0; counts && i < PyTuple_GET_SIZE(self->keys); i++) {
			PyObject *v = PyLong_FromUnsignedLongLong(self->by_rule[i]);
			if (!v) {
				Py_CLEAR(counts);
				break;
			}
			PyList_SET_ITEM(counts, i, v);
		}
		if (counts) {
			result = Py_BuildValue("(KKKKO)", self->delivered, self->malformed, self->gaps, self->cut, counts);
			Py_DECREF(counts);
		}
	}
	PyMem_Free(self->by_rule);
	self->by_rule = NULL;
	self->next_seq = NULL;
	return result;
}

/* format()'s step: a sample formatted, and the buffer written when it is large */
static int format_step(Formatter *self, void *ctx, const uint8_t *raw, size_t n)
{
	if (one_sample(self, raw, n) < 0)
		return -1;
	return self->fd >= 0 && self->out.len >= WRITE_AT ? write_out(self) : 0;
}

/*
 * format(samples | chunk, next_seq[, stride, offset, count]) -> (delivered, malformed, gaps, cut, by_rule)
 *
 * Formats a batch: a sequence of samples, or `count` (-1: all) equal-sized samples laid out every
 * `stride` bytes from `offset` in `chunk`. The text is buffered, and written to fd in blocks
 * of WRITE_AT bytes (flush() writes the rest, take() hands it over when there is no fd).
 * by_rule: the events formatted per keys entry (handed-back ones not included: the
 * reference counts those). next_seq: the decoder's per-CPU dict, read and updated.
 */
static PyObject *Formatter_format(Formatter *self, PyObject *args)
{
	PyObject *source, *next_seq, *seq = NULL, *result;
	Py_ssize_t stride = 0, offset = 0, count = -1;
	Py_buffer view = {0};

	if (!PyArg_ParseTuple(args, "OO!|nnn", &source, &PyDict_Type, &next_seq, &stride, &offset, &count))
		return NULL;
	if (batch_begin(self, next_seq) < 0)
		return NULL;
	int failed = batch_walk(self, source, stride, offset, count, format_step, NULL, &view, &seq) < 0;
	result = batch_end(self, failed);
	if (view.obj)
		PyBuffer_Release(&view);
	Py_XDECREF(seq);
	return result;
}

/* -- tallies for the dashboard ---------------------------------------------- */

/*
 * What `top` counts of a batch, without an object per event: events, failures, and counts by
 * syscall, process (with its last comm and exe), login uid and rule. Consecutive events
 * mostly share each of these, so a count is kept for the current run of equal values and
 * added to its dict when the value changes.
 */
struct run {
	int active;
	unsigned long long key, count;
};

static int run_flush(struct run *r, PyObject *dict)
{
	if (!r->active || !r->count)
		return 0;
	PyObject *k = PyLong_FromUnsignedLongLong(r->key);
	if (!k)
		return -1;
	PyObject *old = PyDict_GetItemWithError(dict, k);
	unsigned long long n = r->count;
	if (old)
		n += PyLong_AsUnsignedLongLong(old);
	PyObject *v = PyErr_Occurred() ? NULL : PyLong_FromUnsignedLongLong(n);
	int rc = v ? PyDict_SetItem(dict, k, v) : -1;
	Py_DECREF(k);
	Py_XDECREF(v);
	r->count = 0;
	return rc;
}

static inline int run_add(struct run *r, unsigned long long key, PyObject *dict)
{
	if (r->active && r->key != key && run_flush(r, dict) < 0)
		return -1;
	r->active = 1;
	r->key = key;
	r->count++;
	return 0;
}

struct tail_entry {
	const uint8_t *p;
	size_t n;
	unsigned long long serial;
	int back;	/* handed back: user space decides whether it is an event */
};

struct tally;
static void tail_add(struct tally *t, const uint8_t *raw, size_t n, unsigned long long serial, int back);

struct tally {
	unsigned long long n, failures;
	struct run sys, auid, proc;
	PyObject *syscalls, *auids, *procs, *labels, *back;
	struct text comm, exe;		/* the current process run's last comm and exe, in the batch's memory */
	struct tail_entry *tail;
	Py_ssize_t tail_cap, tail_len, tail_at;
};

/* the label (comm, exe) of the process run being counted */
static int label_flush(struct tally *t)
{
	if (!t->proc.active)
		return 0;
	PyObject *k = PyLong_FromUnsignedLongLong(t->proc.key);
	PyObject *v = Py_BuildValue("(y#N)", (const char *)t->comm.p, (Py_ssize_t)t->comm.n,
				    t->exe.present ? PyBytes_FromStringAndSize((const char *)t->exe.p, t->exe.n)
						   : Py_NewRef(Py_None));
	int rc = k && v ? PyDict_SetItem(t->labels, k, v) : -1;
	Py_XDECREF(k);
	Py_XDECREF(v);
	return rc;
}

static int tally_sample(Formatter *self, struct tally *t, const uint8_t *raw, size_t n)
{
	struct event e;
	int r;

	r = begin_sample(self, raw, n, &e);
	if (r < 0 || r == MALFORMED)
		return r < 0 ? -1 : 0;
	if ((e.h.flags & BA_REC_USERSPACE_CHECK) && self->decide) {
		/* the reference decides it: handed back whole (and kept in its place in the tail) */
		PyObject *item = Py_BuildValue("(y#K)", (const char *)raw, (Py_ssize_t)n, self->serial);
		int rc = item ? PyList_Append(t->back, item) : -1;
		Py_XDECREF(item);
		tail_add(t, raw, n, self->serial, 1);
		return rc;
	}
	if ((e.h.flags & BA_REC_OBJS_CUT) && !has_cut(&e, "objs"))
		add_cut(&e, "objs", 0);
	if (e.ncut)
		self->cut++;
	const uint8_t *comm = raw + offsetof(struct ba_record, comm);	/* in the batch, not this copy */
	const uint8_t *nul = memchr(comm, 0, sizeof(e.h.comm));
	t->n++;
	t->failures += !(e.h.exit < -4095 || e.h.exit >= 0);
	if (run_add(&t->sys, (unsigned long long)e.h.arch << 32 | e.h.syscall, t->syscalls) < 0 ||
	    run_add(&t->auid, e.h.auid, t->auids) < 0)
		return -1;
	if (t->proc.active && t->proc.key != e.h.pid && label_flush(t) < 0)
		return -1;
	if (run_add(&t->proc, e.h.pid, t->procs) < 0)
		return -1;
	t->comm = (struct text){comm, nul ? (uint32_t)(nul - comm) : (uint32_t)sizeof(e.h.comm), 1};
	t->exe = e.exe;	/* points into the sample: valid for the whole call */
	Py_ssize_t nkeys = PyTuple_GET_SIZE(self->keys) - 1;
	self->by_rule[e.h.rule < nkeys ? e.h.rule : nkeys]++;
	tail_add(t, raw, n, self->serial, 0);
	return 0;
}

static void tail_add(struct tally *t, const uint8_t *raw, size_t n, unsigned long long serial, int back)
{
	if (!t->tail_cap)
		return;
	t->tail[t->tail_at] = (struct tail_entry){raw, n, serial, back};
	t->tail_at = (t->tail_at + 1) % t->tail_cap;
	if (t->tail_len < t->tail_cap)
		t->tail_len++;
}

/*
 * tally(samples | chunk, next_seq, stride, offset, count, tail) ->
 *     ((delivered, malformed, gaps, cut, by_rule),
 *      (events, failures, syscalls, auids, processes, labels, tail, back))
 *
 * syscalls: {arch << 32 | nr: count}; auids: {auid: count}; processes: {pid: count};
 * labels: {pid: (comm bytes, exe bytes or None)}; tail: the last `tail` samples, [(raw, serial, handed back)];
 * back: the samples user space must decide, [(raw, serial)], not counted in the rest.
 */
static int tally_step(Formatter *self, void *ctx, const uint8_t *raw, size_t n)
{
	return tally_sample(self, ctx, raw, n);
}

static PyObject *Formatter_tally(Formatter *self, PyObject *args)
{
	PyObject *source, *next_seq, *result = NULL, *counts = NULL, *tail_list = NULL, *seq = NULL;
	Py_ssize_t stride = 0, offset = 0, count = -1, tail = 0;
	Py_buffer view = {0};
	struct tally t;
	int failed;

	if (!PyArg_ParseTuple(args, "OO!nnnn", &source, &PyDict_Type, &next_seq, &stride, &offset, &count, &tail))
		return NULL;
	memset(&t, 0, sizeof(t));
	t.syscalls = PyDict_New();
	t.auids = PyDict_New();
	t.procs = PyDict_New();
	t.labels = PyDict_New();
	t.back = PyList_New(0);
	t.tail_cap = tail < 0 ? 0 : tail > 65536 ? 65536 : tail;
	t.tail = t.tail_cap ? PyMem_Calloc(t.tail_cap, sizeof(*t.tail)) : NULL;
	if (!t.syscalls || !t.auids || !t.procs || !t.labels || !t.back || (t.tail_cap && !t.tail)) {
		if (!PyErr_Occurred())
			PyErr_NoMemory();
		goto out;
	}
	if (batch_begin(self, next_seq) < 0)
		goto out;
	failed = batch_walk(self, source, stride, offset, count, tally_step, &t, &view, &seq) < 0;
	if (!failed)
		failed = label_flush(&t) < 0 || run_flush(&t.sys, t.syscalls) < 0 || run_flush(&t.auid, t.auids) < 0 ||
			 run_flush(&t.proc, t.procs) < 0;
	if (!failed) {	/* while the batch's memory, which the tail points into, is still held */
		tail_list = PyList_New(0);
		for (Py_ssize_t i = 0; tail_list && i < t.tail_len && !failed; i++) {
			struct tail_entry *te = &t.tail[(t.tail_at - t.tail_len + i + t.tail_cap) % t.tail_cap];
			PyObject *item = Py_BuildValue("(y#Ki)", (const char *)te->p, (Py_ssize_t)te->n, te->serial, te->back);
			failed = !item || PyList_Append(tail_list, item) < 0;
			Py_XDECREF(item);
		}
		failed = failed || !tail_list;
	}
	counts = batch_end(self, failed);
	if (counts)
		result = Py_BuildValue("(O(KKOOOOOO))", counts, t.n, t.failures, t.syscalls, t.auids, t.procs, t.labels,
				       tail_list, t.back);
out:
	if (view.obj)
		PyBuffer_Release(&view);
	Py_XDECREF(counts);
	Py_XDECREF(tail_list);
	Py_XDECREF(seq);
	Py_XDECREF(t.syscalls);
	Py_XDECREF(t.auids);
	Py_XDECREF(t.procs);
	Py_XDECREF(t.labels);
	Py_XDECREF(t.back);
	PyMem_Free(t.tail);
	return result;
}

/* flush(): writes the buffered text to fd */
static PyObject *Formatter_flush(Formatter *self, PyObject *unused)
{
	if (self->fd < 0) {
		PyErr_SetString(PyExc_ValueError, "no fd to write to: use take()");
		return NULL;
	}
	if (write_out(self) < 0)
		return NULL;
	Py_RETURN_NONE;
}

/* take() -> bytes: the buffered text, handed over */
static PyObject *Formatter_take(Formatter *self, PyObject *unused)
{
	PyObject *text = PyBytes_FromStringAndSize(self->out.p, self->out.len);

	if (text)
		self->out.len = 0;
	return text;
}

static PyObject *Formatter_get_pending(Formatter *self, void *closure)
{
	return PyLong_FromSize_t(self->out.len);
}

static PyObject *Formatter_get_written(Formatter *self, void *closure)
{
	return PyLong_FromUnsignedLongLong(self->written);
}

static PyObject *Formatter_get_unwritten(Formatter *self, void *closure)
{
	return PyLong_FromUnsignedLongLong(self->unwritten);
}

static PyObject *Formatter_get_write_errno(Formatter *self, void *closure)
{
	return PyLong_FromLong(self->write_errno);
}

static PyObject *Formatter_get_serial(Formatter *self, void *closure)
{
	return PyLong_FromUnsignedLongLong(self->serial);
}

static int Formatter_set_serial(Formatter *self, PyObject *value, void *closure)
{
	unsigned long long v = value ? PyLong_AsUnsignedLongLong(value) : 0;

	if (!value || PyErr_Occurred()) {
		if (!PyErr_Occurred())
			PyErr_SetString(PyExc_TypeError, "serial: an int");
		return -1;
	}
	self->serial = v;
	return 0;
}

static PyObject *time_repr(PyObject *mod, PyObject *arg)
{
	char out[48];
	double t = PyFloat_AsDouble(arg);

	if (t == -1.0 && PyErr_Occurred())
		return NULL;
	if (!fast_repr(t, out))
		Py_RETURN_NONE;
	return PyUnicode_FromString(out);
}

static PyMethodDef Formatter_methods[] = {
	{"format", (PyCFunction)Formatter_format, METH_VARARGS,
	 "format(samples | chunk, next_seq[, stride, offset, count]) -> (delivered, malformed, gaps, cut, by_rule)"},
	{"flush", (PyCFunction)Formatter_flush, METH_NOARGS, "writes the buffered text to fd"},
	{"tally", (PyCFunction)Formatter_tally, METH_VARARGS,
	 "tally(samples | chunk, next_seq, stride, offset, count, tail) -> (counts, tally): top's counts of a batch"},
	{"take", (PyCFunction)Formatter_take, METH_NOARGS, "the buffered text (bytes), handed over"},
	{NULL},
};

static PyGetSetDef Formatter_getset[] = {
	{"serial", (getter)Formatter_get_serial, (setter)Formatter_set_serial, "the last serial given", NULL},
	{"pending", (getter)Formatter_get_pending, NULL, "bytes of text buffered, not yet written", NULL},
	{"written", (getter)Formatter_get_written, NULL, "bytes of text written to fd", NULL},
	{"unwritten", (getter)Formatter_get_unwritten, NULL, "events not written: a write error", NULL},
	{"write_errno", (getter)Formatter_get_write_errno, NULL, "the first write error's errno, 0: none", NULL},
	{NULL},
};

static PyTypeObject FormatterType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "tracer.formats._native.Formatter",
	.tp_basicsize = sizeof(Formatter),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "Decodes ring samples and writes their audit text or JSON lines (see tracer/formats/native.py).",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)Formatter_init,
	.tp_dealloc = (destructor)Formatter_dealloc,
	.tp_methods = Formatter_methods,
	.tp_getset = Formatter_getset,
};

static PyMethodDef module_methods[] = {
	{"time_repr", time_repr, METH_O, "repr(t) for an event time, or None where Python's own is used"},
	{NULL},
};

static struct PyModuleDef module = {
	PyModuleDef_HEAD_INIT, "_native", "bpfaudit's compiled record formatter", -1, module_methods,
};

PyMODINIT_FUNC PyInit__native(void)
{
	PyObject *m;

	init_pow10();
	if (PyType_Ready(&FormatterType) < 0)
		return NULL;
	m = PyModule_Create(&module);
	if (!m)
		return NULL;
	Py_INCREF(&FormatterType);
	if (PyModule_AddObject(m, "Formatter", (PyObject *)&FormatterType) < 0 ||
	    PyModule_AddIntConstant(m, "SCHEMA_VERSION", BA_SCHEMA_VERSION) < 0 ||
	    PyModule_AddIntConstant(m, "RECORD_HDR_SIZE", BA_RECORD_HDR_SIZE) < 0) {
		Py_DECREF(&FormatterType);
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
