package testservices_test

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casual-dev/casual/internal/testservices"
)

// redisDo sends one inline command and returns the first reply line.
func redisDo(t *testing.T, addr, cmd string) (string, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

func TestRedisRestartsEmptyOnTheSamePort(t *testing.T) {
	r := testservices.StartRedis(t)
	if !strings.HasPrefix(r.URL(), "redis://127.0.0.1:") {
		t.Fatalf("URL() = %q", r.URL())
	}
	if got, err := redisDo(t, r.Addr(), "SET k v"); err != nil || got != "+OK\r\n" {
		t.Fatalf("SET = %q, %v", got, err)
	}
	r.Stop()
	if _, err := redisDo(t, r.Addr(), "PING"); err == nil {
		t.Fatal("PING answered after Stop")
	}
	r.Start(t)
	if got, err := redisDo(t, r.Addr(), "GET k"); err != nil || got != "$-1\r\n" {
		t.Fatalf("GET after restart = %q, %v; want nil (no persistence)", got, err)
	}
	r.Restart(t)
	if got, err := redisDo(t, r.Addr(), "PING"); err != nil || got != "+PONG\r\n" {
		t.Fatalf("PING after Restart = %q, %v", got, err)
	}
}

func TestPostgresKeepsCommittedRowsAcrossRestart(t *testing.T) {
	pg := testservices.StartPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	exec := func(sql string) error {
		c, err := pgx.Connect(ctx, pg.DSN())
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE TABLE t (v int); INSERT INTO t VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	pg.Stop()
	if err := exec("SELECT 1"); err == nil {
		t.Fatal("query succeeded while the server was stopped")
	}
	pg.Restart(t)
	c, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var v int
	if err := c.QueryRow(ctx, "SELECT v FROM t").Scan(&v); err != nil || v != 42 {
		t.Fatalf("after restart: v = %d, %v", v, err)
	}
}
