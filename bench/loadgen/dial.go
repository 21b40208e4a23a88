package main

import (
	"net"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

// client is one generator connection and the batchConn beneath it.
type client struct {
	ws   *websocket.Conn
	conn *batchConn
}

// dial opens one connection to url. A write buffer as large as the message
// keeps every message one frame (gorilla fragments client messages at the
// buffer's size).
func dial(url string, size int) (*client, error) {
	var bc *batchConn
	buffer := 64 * 1024
	if size+16 > buffer {
		buffer = size + 16
	}
	dialer := websocket.Dialer{
		ReadBufferSize:  64 * 1024,
		WriteBufferSize: buffer,
		NetDial: func(network, addr string) (net.Conn, error) {
			c, err := net.Dial(network, addr)
			if err != nil {
				return nil, err
			}
			c.(*net.TCPConn).SetNoDelay(true)
			bc = &batchConn{Conn: c}
			return bc, nil
		},
	}
	ws, _, err := dialer.Dial(url, nil)
	if err != nil {
		return nil, err
	}
	return &client{ws: ws, conn: bc}, nil
}

// dialMany opens n connections, 64 at a time.
func dialMany(url string, size, n int) ([]*client, error) {
	clients := make([]*client, n)
	var next int64 = -1
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	workers := 64
	if n < workers {
		workers = n
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(atomic.AddInt64(&next, 1))
				if i >= n {
					return
				}
				c, err := dial(url, size)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				clients[i] = c
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		closeAll(clients)
		return nil, firstErr
	}
	return clients, nil
}

// closeAll drops every connection without a closing handshake.
func closeAll(clients []*client) {
	for _, c := range clients {
		if c != nil {
			c.conn.Conn.Close()
		}
	}
}
