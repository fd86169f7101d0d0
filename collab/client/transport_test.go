package client_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/casual-dev/casual/collab/client"
)

func TestPipe(t *testing.T) {
	frame := []byte{0xa0}
	tests := []struct {
		name string
		run  func(ctx context.Context, a, b client.Transport) error
	}{
		{"recv after peer close drains then EOF", func(ctx context.Context, a, b client.Transport) error {
			for _, f := range [][]byte{{1}, {2}} {
				if err := a.Send(ctx, f); err != nil {
					return err
				}
			}
			a.Close()
			for _, want := range []byte{1, 2} {
				f, err := b.Recv(ctx)
				if err != nil || len(f) != 1 || f[0] != want {
					return errors.Join(errors.New("lost a frame sent before close"), err)
				}
			}
			return wantErr(errOf(b.Recv(ctx)), io.EOF)
		}},
		{"send after peer close", func(ctx context.Context, a, b client.Transport) error {
			b.Close()
			return wantErr(a.Send(ctx, frame), io.ErrClosedPipe)
		}},
		{"use after own close, close idempotent", func(ctx context.Context, a, b client.Transport) error {
			if err := errors.Join(a.Close(), a.Close()); err != nil {
				return err
			}
			return errors.Join(wantErr(a.Send(ctx, frame), net.ErrClosed), wantErr(errOf(a.Recv(ctx)), net.ErrClosed))
		}},
		{"send blocks when the buffer is full", func(ctx context.Context, a, b client.Transport) error {
			for range 64 {
				if err := a.Send(ctx, frame); err != nil {
					return err
				}
			}
			short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			return wantErr(a.Send(short, frame), context.DeadlineExceeded)
		}},
		{"close unblocks recv", func(ctx context.Context, a, b client.Transport) error {
			got := make(chan error, 1)
			go func() {
				_, err := a.Recv(ctx)
				got <- err
			}()
			a.Close()
			return wantErr(<-got, net.ErrClosed)
		}},
		{"sender may reuse its buffer", func(ctx context.Context, a, b client.Transport) error {
			buf := []byte{7}
			if err := a.Send(ctx, buf); err != nil {
				return err
			}
			buf[0] = 8
			f, err := b.Recv(ctx)
			if err != nil || f[0] != 7 {
				return errors.Join(errors.New("pipe kept the sender's buffer"), err)
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			a, b := client.Pipe()
			defer a.Close()
			defer b.Close()
			if err := tt.run(ctx, a, b); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func wantErr(got, want error) error {
	if !errors.Is(got, want) {
		return errors.New("got error " + errString(got) + ", want " + want.Error())
	}
	return nil
}

func errOf(_ []byte, err error) error { return err }

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}
