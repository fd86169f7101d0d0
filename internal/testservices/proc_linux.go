package testservices

import "syscall"

// dieWithParent makes the kernel kill the server if the test binary dies
// before its cleanup runs.
func dieWithParent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
