package embedded

import (
	"errors"
	"os"
	"syscall"
)

// fdatasync syncs f's data and the metadata needed to read it back (its
// size), which is all a log needs.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
