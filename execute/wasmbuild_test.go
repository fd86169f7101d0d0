package execute_test

// A tiny WebAssembly encoder, so the tests can make the WASI modules they
// upload (well-behaved, trapping, looping, greedy...) without a toolchain.

type wasmFunc struct {
	params, results int // all i32
	locals          int // i32 locals
	body            []byte
}

type wasmImport struct {
	module, name    string
	params, results int
}

type wasmModule struct {
	imports  []wasmImport
	start    wasmFunc // exported as _start
	memPages int      // exported as memory; 0: none
	data     map[int][]byte
}

// WASI preview1 import indexes used by the modules below.
var wasiImports = []wasmImport{
	{"wasi_snapshot_preview1", "fd_read", 4, 1},
	{"wasi_snapshot_preview1", "fd_write", 4, 1},
	{"wasi_snapshot_preview1", "proc_exit", 1, 0},
}

const (
	fnFdRead = iota
	fnFdWrite
	fnProcExit
)

func (m wasmModule) encode() []byte {
	out := []byte{0x00, 'a', 's', 'm', 1, 0, 0, 0}
	// Types: one per import, then _start's.
	var types [][]byte
	functype := func(p, r int) []byte {
		b := []byte{0x60}
		b = append(b, uleb(p)...)
		for range p {
			b = append(b, 0x7f)
		}
		b = append(b, uleb(r)...)
		for range r {
			b = append(b, 0x7f)
		}
		return b
	}
	for _, im := range m.imports {
		types = append(types, functype(im.params, im.results))
	}
	types = append(types, functype(m.start.params, m.start.results))
	out = section(out, 1, vec(types))
	if len(m.imports) > 0 {
		var ims [][]byte
		for i, im := range m.imports {
			b := append(name(im.module), name(im.name)...)
			b = append(b, 0x00)
			b = append(b, uleb(i)...)
			ims = append(ims, b)
		}
		out = section(out, 2, vec(ims))
	}
	out = section(out, 3, vec([][]byte{uleb(len(m.imports))}))
	if m.memPages > 0 {
		out = section(out, 5, vec([][]byte{append([]byte{0x00}, uleb(m.memPages)...)}))
	}
	exports := [][]byte{append(append(name("_start"), 0x00), uleb(len(m.imports))...)}
	if m.memPages > 0 {
		exports = append(exports, append(append(name("memory"), 0x02), 0))
	}
	out = section(out, 7, vec(exports))
	var fn []byte
	if m.start.locals > 0 {
		fn = append(fn, 1)
		fn = append(fn, uleb(m.start.locals)...)
		fn = append(fn, 0x7f)
	} else {
		fn = append(fn, 0)
	}
	fn = append(fn, m.start.body...)
	fn = append(fn, 0x0b)
	out = section(out, 10, vec([][]byte{append(uleb(len(fn)), fn...)}))
	if len(m.data) > 0 {
		var segs [][]byte
		for off, d := range m.data {
			b := []byte{0x00, 0x41}
			b = append(b, sleb(off)...)
			b = append(b, 0x0b)
			b = append(b, uleb(len(d))...)
			segs = append(segs, append(b, d...))
		}
		out = section(out, 11, vec(segs))
	}
	return out
}

func section(out []byte, id byte, body []byte) []byte {
	out = append(out, id)
	out = append(out, uleb(len(body))...)
	return append(out, body...)
}

func vec(items [][]byte) []byte {
	b := uleb(len(items))
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}

func name(s string) []byte { return append(uleb(len(s)), s...) }

func uleb(n int) []byte {
	var b []byte
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if n != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			return b
		}
	}
}

func sleb(n int) []byte {
	var b []byte
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if (n == 0 && c&0x40 == 0) || (n == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// Instructions.
func i32(n int) []byte     { return append([]byte{0x41}, sleb(n)...) }
func call(f int) []byte    { return append([]byte{0x10}, uleb(f)...) }
func load(off int) []byte  { return append([]byte{0x28, 2}, uleb(off)...) }
func store(off int) []byte { return append([]byte{0x36, 2}, uleb(off)...) }
func ops(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

var (
	opDrop        = []byte{0x1a}
	opUnreachable = []byte{0x00}
	opLoop        = []byte{0x03, 0x40}
	opEnd         = []byte{0x0b}
	opBr0         = []byte{0x0c, 0}
	opMemoryGrow  = []byte{0x40, 0}
	opBrIf0       = []byte{0x0d, 0}
)

// writeIOVs writes n iovecs starting at iovs to stdout.
func writeIOVs(fd, iovs, n int) []byte {
	return ops(i32(fd), i32(iovs), i32(n), i32(8), call(fnFdWrite), opDrop)
}

// echoModule answers {"output": <its stdin>}: {input, state, event}.
func echoModule() []byte {
	const buf, bufLen = 1024, 60000
	pre, post := []byte(`{"output":`), []byte("}\n")
	body := ops(
		// iov for fd_read at 16: {buf, bufLen}; nread at 12
		i32(16), i32(buf), store(0), i32(16), i32(bufLen), store(4),
		i32(0), i32(16), i32(1), i32(12), call(fnFdRead), opDrop,
		// iovs at 32: pre, stdin, post
		i32(32), i32(200), store(0), i32(32), i32(len(pre)), store(4),
		i32(40), i32(buf), store(0), i32(40), i32(12), load(0), store(4),
		i32(48), i32(300), store(0), i32(48), i32(len(post)), store(4),
		writeIOVs(1, 32, 3),
	)
	return wasmModule{imports: wasiImports, memPages: 2, start: wasmFunc{body: body},
		data: map[int][]byte{200: pre, 300: post}}.encode()
}

// printModule writes s to fd and exits with code.
func printModule(fd int, s string, code int) []byte {
	body := ops(i32(32), i32(200), store(0), i32(32), i32(len(s)), store(4), writeIOVs(fd, 32, 1))
	if code != 0 {
		body = ops(body, i32(code), call(fnProcExit))
	}
	return wasmModule{imports: wasiImports, memPages: 1, start: wasmFunc{body: body},
		data: map[int][]byte{200: []byte(s)}}.encode()
}

func trapModule() []byte {
	return wasmModule{imports: wasiImports, memPages: 1, start: wasmFunc{body: opUnreachable}}.encode()
}

func loopModule() []byte {
	return wasmModule{imports: wasiImports, memPages: 1, start: wasmFunc{body: ops(opLoop, opBr0, opEnd)}}.encode()
}

// growModule grows memory a page at a time until refused, then traps, as
// an allocator that finds no memory would.
func growModule() []byte {
	body := ops(opLoop, i32(1), opMemoryGrow, i32(-1), []byte{0x47}, opBrIf0, opEnd, opUnreachable) // 0x47: i32.ne
	return wasmModule{imports: wasiImports, memPages: 1, start: wasmFunc{body: body}}.encode()
}

// floodModule writes its whole 2 MiB memory to stdout.
func floodModule() []byte {
	body := ops(i32(0), i32(0), store(0), i32(0), i32(32*65536), store(4), writeIOVs(1, 0, 1))
	return wasmModule{imports: wasiImports, memPages: 32, start: wasmFunc{body: body}}.encode()
}

// importModule imports a host function it may not have.
func importModule() []byte {
	return wasmModule{imports: []wasmImport{{"env", "open_socket", 0, 1}}, memPages: 1,
		start: wasmFunc{body: ops(call(0), opDrop)}}.encode()
}

// bigMemoryModule starts with more memory than the limit.
func bigMemoryModule(pages int) []byte {
	return wasmModule{imports: wasiImports, memPages: pages, start: wasmFunc{}}.encode()
}
