# berth exec stub (x86_64). argv: [name, WAITFD or "-", PATH, ARG0, ARG...].
# When WAITFD is a number, blocks until one byte can be read from it (the exec fifo: the
# container's `start`), closes it, then execve(PATH, &ARG0, envp); exits 127 on any failure.
# No libc, no data. See CLinux.h for why it exists.
	.globl _start
	.text
_start:
	mov	(%rsp), %rcx		# argc
	cmp	$3, %rcx
	jl	fail
	lea	8(%rsp), %rbx		# rbx = argv
	lea	8(%rbx,%rcx,8), %r12	# r12 = envp = argv + argc + 1
	mov	8(%rbx), %rsi		# argv[1]: the descriptor to wait on, or "-"
	xor	%r13d, %r13d
	cmpb	$'-', (%rsi)
	je	exec
parse:
	movzbl	(%rsi), %eax
	test	%al, %al
	jz	wait
	sub	$'0', %eax
	cmp	$9, %eax
	ja	fail
	imul	$10, %r13d, %r13d
	add	%eax, %r13d
	inc	%rsi
	jmp	parse
wait:
	sub	$16, %rsp		# a one-byte buffer on the stack
again:
	mov	%r13d, %edi
	mov	%rsp, %rsi
	mov	$1, %edx
	xor	%eax, %eax		# SYS_read
	syscall
	cmp	$-4, %rax		# -EINTR: read again
	je	again
	cmp	$1, %rax
	jne	fail
	mov	%r13d, %edi
	mov	$3, %eax		# SYS_close
	syscall
	add	$16, %rsp
exec:
	mov	16(%rbx), %rdi		# path = argv[2]
	lea	24(%rbx), %rsi		# argv + 3
	mov	%r12, %rdx		# envp
	mov	$59, %eax		# SYS_execve
	syscall
fail:
	mov	$127, %edi
	mov	$231, %eax		# SYS_exit_group
	syscall
