// berth exec stub (aarch64): execve(argv[1], &argv[2], envp); exit_group(127) on failure.
// No libc, no data: the whole program is these instructions. See CLinux.h for why it exists.
	.globl _start
	.text
_start:
	ldr	x9, [sp]		// argc
	cmp	x9, #2
	b.lt	fail
	add	x1, sp, #8		// argv
	add	x2, x1, x9, lsl #3
	add	x2, x2, #8		// envp = argv + argc + 1
	ldr	x0, [x1, #8]		// path = argv[1]
	add	x1, x1, #16		// argv + 2
	mov	x8, #221		// SYS_execve
	svc	#0
fail:
	mov	x0, #127
	mov	x8, #94			// SYS_exit_group
	svc	#0
