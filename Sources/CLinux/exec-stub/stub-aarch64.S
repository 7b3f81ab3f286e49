// berth exec stub (aarch64). argv: [name, WAITFD or "-", PATH, ARG0, ARG...].
// When WAITFD is a number, blocks until one byte can be read from it (the exec fifo: the
// container's `start`), closes it, then execve(PATH, &ARG0, envp); exits 127 on any failure.
// No libc, no data. See CLinux.h for why it exists.
	.globl _start
	.text
_start:
	ldr	x19, [sp]		// argc
	cmp	x19, #3
	b.lt	fail
	add	x20, sp, #8		// x20 = argv
	add	x21, x20, x19, lsl #3
	add	x21, x21, #8		// x21 = envp = argv + argc + 1
	ldr	x1, [x20, #8]		// argv[1]: the descriptor to wait on, or "-"
	mov	x22, #0
	ldrb	w2, [x1]
	cmp	w2, #'-'
	b.eq	exec
parse:
	ldrb	w2, [x1], #1
	cbz	w2, wait
	sub	w2, w2, #'0'
	cmp	w2, #9
	b.hi	fail
	mov	x3, #10
	madd	x22, x22, x3, x2
	b	parse
wait:
	sub	sp, sp, #16		// a one-byte buffer on the stack
again:
	mov	x0, x22
	mov	x1, sp
	mov	x2, #1
	mov	x8, #63			// SYS_read
	svc	#0
	cmn	x0, #4			// -EINTR: read again
	b.eq	again
	cmp	x0, #1
	b.ne	fail
	mov	x0, x22
	mov	x8, #57			// SYS_close
	svc	#0
	add	sp, sp, #16
exec:
	ldr	x0, [x20, #16]		// path = argv[2]
	add	x1, x20, #24		// argv + 3
	mov	x2, x21
	mov	x8, #221		// SYS_execve
	svc	#0
fail:
	mov	x0, #127
	mov	x8, #94			// SYS_exit_group
	svc	#0
