# berth exec stub (x86_64): execve(argv[1], &argv[2], envp); exit_group(127) on failure.
# No libc, no data: the whole program is these instructions. See CLinux.h for why it exists.
	.globl _start
	.text
_start:
	mov	(%rsp), %rdi		# argc
	cmp	$2, %rdi
	jl	fail
	lea	8(%rsp), %rsi		# argv
	lea	8(%rsi,%rdi,8), %rdx	# envp = argv + argc + 1
	mov	8(%rsi), %rdi		# path = argv[1]
	add	$16, %rsi		# argv + 2
	mov	$59, %eax		# SYS_execve
	syscall
fail:
	mov	$127, %edi
	mov	$231, %eax		# SYS_exit_group
	syscall
