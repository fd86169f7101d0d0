//go:build unix

package testservices

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// runAs is the user a server runs as; the zero value is the test's own.
type runAs struct {
	cred *syscall.Credential
}

// serverUser returns the user PostgreSQL runs as: the test's own, or, for
// root (whom initdb refuses), the postgres user.
func serverUser() (*runAs, error) {
	if os.Geteuid() != 0 {
		return &runAs{}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses root, but there is no postgres user: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("postgres user: %w", err)
	}
	return &runAs{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}}, nil
}

func (r *runAs) apply(a *syscall.SysProcAttr) { a.Credential = r.cred }

// own gives dir to the user.
func (r *runAs) own(dir string) error {
	if r.cred == nil {
		return nil
	}
	if err := os.Chown(dir, int(r.cred.Uid), int(r.cred.Gid)); err != nil {
		return fmt.Errorf("give %s to the postgres user: %w", dir, err)
	}
	return nil
}
