package execute

import (
	"encoding/json"
	"testing"
)

// FuzzGuestAnswer feeds the host's decoding of a guest's answer line (what
// a compromised or broken guest could write) with arbitrary bytes: it must
// return an error or a result, never panic.
func FuzzGuestAnswer(f *testing.F) {
	f.Add([]byte(`{"ok":true,"result":{"output":1,"state":{"n":2}},"logs":["a"],"logs_dropped":0,"mem_peak":10}`))
	f.Add([]byte(`{"ok":false,"kind":"memory","error":{"name":"InternalError","message":"out of memory"}}`))
	f.Add([]byte(`{"ok":true,"result":[1,2]}`))
	f.Add([]byte(`{"output":{"deep":[[[[]]]]},"state":null}`))
	lim := DefaultLimits()
	f.Fuzz(func(t *testing.T, line []byte) {
		var resp guestResponse
		if json.Unmarshal(line, &resp) == nil {
			if !resp.OK {
				if err := guestError(resp, lim); err == nil {
					t.Fatal("a failed answer gave no error")
				}
			}
			var res Result
			_ = decodeResult(resp.Result, &res)
		}
		var res Result
		_ = decodeResult(line, &res)
	})
}
