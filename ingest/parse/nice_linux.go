package parse

import "syscall"

// lower sets process pid's niceness to childNice, or leaves it at ours when
// we already run nicer. It runs right after the start, so the child spends
// only its first instant at our priority; a failure (a sandbox forbidding
// it) leaves it there, which costs answers speed, not correctness.
func lower(pid int) {
	own, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0) // the kernel's 20 - nice
	if err != nil || 20-own >= childNice {
		return
	}
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, pid, childNice)
}
