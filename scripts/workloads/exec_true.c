// SPDX-License-Identifier: GPL-2.0
/* exec_true: what exec_loop executes (S6): built static, so an exec maps one file and runs ~10 syscalls. */
int main(void)
{
	return 0;
}
