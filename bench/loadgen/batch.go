package main

import (
	"net"
	"sync"
)

// maxBatch bounds the bytes a batchConn holds before it writes them.
const maxBatch = 256 * 1024

// batchConn is a net.Conn whose writes can be held and sent together: the
// writer loops turn batching on, let the WebSocket library write every
// frame that is ready, then flush them in one system call. Without it each
// small message costs the generator a write of its own, and the generator,
// not the peer under test, becomes the limit.
type batchConn struct {
	net.Conn
	mu       sync.Mutex
	batching bool
	pending  []byte
}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.batching && len(b.pending)+len(p) <= maxBatch {
		b.pending = append(b.pending, p...)
		return len(p), nil
	}
	if err := b.flushLocked(); err != nil {
		return 0, err
	}
	return b.Conn.Write(p)
}

// Hold starts holding writes until Flush.
func (b *batchConn) Hold() {
	b.mu.Lock()
	b.batching = true
	b.mu.Unlock()
}

// Flush writes what is held and stops holding.
func (b *batchConn) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batching = false
	return b.flushLocked()
}

func (b *batchConn) flushLocked() error {
	if len(b.pending) == 0 {
		return nil
	}
	_, err := b.Conn.Write(b.pending)
	b.pending = b.pending[:0]
	return err
}

// batchListener hands out batchConns, so that a server's hijacked
// connections batch too.
type batchListener struct {
	net.Listener
}

func (l batchListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tcp, ok := c.(*net.TCPConn); ok {
		tcp.SetNoDelay(true)
	}
	return &batchConn{Conn: c}, nil
}
