package execute

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// linearMemory backs one instance's WASM memory so the host decides, per
// run, how far it may grow: a grow past the limit fails like an exhausted
// machine (memory.grow returns -1, malloc returns NULL), which QuickJS
// reports as "out of memory" and other guests usually trap on. It also
// records the peak size and whether a grow was refused.
type linearMemory struct {
	buf     []byte
	started bool         // the initial allocation was made
	limit   atomic.Int64 // bytes; 0 means no limit beyond the module's max
	peak    atomic.Int64
	refused atomic.Bool
}

// allocator hands wazero the instance's linearMemory. One allocator serves
// one instantiation.
type allocator struct{ mem *linearMemory }

// Allocate implements experimental.MemoryAllocator.
func (a allocator) Allocate(cap, max uint64) experimental.LinearMemory {
	a.mem.buf = make([]byte, 0, cap)
	return a.mem
}

// Reallocate implements experimental.LinearMemory. The first call sets the
// module's initial size and is always honoured: modules whose declared
// minimum is over the limit are refused before instantiation.
func (m *linearMemory) Reallocate(size uint64) []byte {
	if lim := m.limit.Load(); lim > 0 && m.started && int64(size) > lim {
		m.refused.Store(true)
		return nil
	}
	if size > uint64(cap(m.buf)) {
		// Grow geometrically, but never reserve past the limit.
		c := max(size, uint64(cap(m.buf))*2)
		if lim := m.limit.Load(); lim > 0 && c > uint64(lim) {
			c = max(size, uint64(lim))
		}
		nb := make([]byte, size, c)
		copy(nb, m.buf)
		m.buf = nb
	} else {
		m.buf = m.buf[:size]
	}
	m.started = true
	if int64(size) > m.peak.Load() {
		m.peak.Store(int64(size))
	}
	return m.buf
}

// Free implements experimental.LinearMemory.
func (m *linearMemory) Free() { m.buf = nil }

// size returns the current size in bytes. Call it only while the guest is
// not running (between runs), as wazero owns buf meanwhile.
func (m *linearMemory) size() int64 { return m.peak.Load() }
