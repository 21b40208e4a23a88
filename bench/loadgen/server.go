package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"

	"github.com/gorilla/websocket"
)

// message is one received message, on its way back.
type message struct {
	kind int
	data []byte
}

var upgrader = websocket.Upgrader{
	ReadBufferSize:  64 * 1024,
	WriteBufferSize: 64 * 1024,
	CheckOrigin:     func(*http.Request) bool { return true },
}

// echo answers every message on a connection: one goroutine reads, another
// writes every echo that is ready in one batch.
func echo(w http.ResponseWriter, r *http.Request) {
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	bc := ws.UnderlyingConn().(*batchConn)
	queue := make(chan message, 1024)
	// Buffers go back to the reader once echoed, so that large messages
	// do not cost an allocation (and its growth) each.
	free := make(chan []byte, 1024)
	go func() {
		defer close(queue)
		for {
			kind, r, err := ws.NextReader()
			if err != nil {
				return
			}
			var data []byte
			select {
			case data = <-free:
			default:
				data = make([]byte, 0, 512)
			}
			if data, err = readAll(r, data[:0]); err != nil {
				return
			}
			queue <- message{kind, data}
		}
	}()
	recycle := func(data []byte) {
		select {
		case free <- data:
		default:
		}
	}
	defer bc.Conn.Close()
	for m := range queue {
		bc.Hold()
		err := ws.WriteMessage(m.kind, m.data)
		recycle(m.data)
		for more := true; more && err == nil; {
			select {
			case next, ok := <-queue:
				if !ok {
					more = false
					break
				}
				err = ws.WriteMessage(next.kind, next.data)
				recycle(next.data)
			default:
				more = false
			}
		}
		if err == nil {
			err = bc.Flush()
		}
		if err != nil {
			break
		}
	}
	// The close frame the library answered with may still be held.
	bc.Flush()
}

// readAll appends what r yields to buf, growing it as needed.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// serveEcho runs the echo server until stdin ends.
func serveEcho(port int) error {
	listener, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return err
	}
	line, _ := json.Marshal(map[string]int{"port": listener.Addr().(*net.TCPAddr).Port})
	fmt.Println(string(line))
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	return http.Serve(batchListener{listener}, http.HandlerFunc(echo))
}
