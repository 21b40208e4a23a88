package main

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// runHandshakes runs concurrency loops, each opening a connection, sending
// a close frame, waiting for the peer's close frame and closing the socket.
func runHandshakes(c config) (result, error) {
	var done, failed int64
	var stop int32
	closing := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	one := func() {
		cl, err := dial(c.url, 16)
		if err != nil {
			atomic.AddInt64(&failed, 1)
			time.Sleep(10 * time.Millisecond)
			return
		}
		defer cl.conn.Conn.Close()
		if err := cl.ws.WriteMessage(websocket.CloseMessage, closing); err != nil {
			atomic.AddInt64(&failed, 1)
			return
		}
		for {
			if _, _, err := cl.ws.NextReader(); err != nil {
				if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
					atomic.AddInt64(&done, 1)
				} else {
					atomic.AddInt64(&failed, 1)
				}
				return
			}
		}
	}
	var wg sync.WaitGroup
	for i := 0; i < c.concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for atomic.LoadInt32(&stop) == 0 {
				one()
			}
		}()
	}
	rates, cpu := window(c, &done, &failed)
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	r := result{Metrics: map[string]float64{"handshakes/s": rates[0]}, CPU: cpu}
	if rates[1] > 0 {
		r.Metrics["failed/s"] = rates[1]
	}
	return r, nil
}
