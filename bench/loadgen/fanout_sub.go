// The subscriber side of the fanout mode (see fanout.go): raw connections
// that count and check every message.

package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// subscriber is one raw subscriber connection. It reads bytes with a large
// buffer and walks the frame headers itself (server frames are unmasked),
// so that a delivery costs the generator a header check, not a reader.
type subscriber struct {
	conn   net.Conn
	worker int // 1-based, from the welcome
	// Per publisher: the last sequence number seen plus one (0: none yet).
	next       []uint64
	delivered  int64 // atomic
	lost       int64 // atomic: sequence numbers skipped over
	reordered  int64 // atomic: sequence numbers at or below one seen
	reads      int64 // atomic: reads that returned bytes
	badFrames  int64 // atomic: frames this mode never sends
	welcomed   chan struct{}
	registered int32 // atomic: 1 once a message arrived
}

// dialRaw upgrades a plain TCP connection by hand and returns it with
// whatever bytes followed the response head.
func dialRaw(url string) (net.Conn, []byte, error) {
	rest := strings.TrimPrefix(url, "ws://")
	slash := strings.IndexByte(rest, '/')
	host, path := rest[:slash], rest[slash:]
	conn, err := net.Dial("tcp", host)
	if err != nil {
		return nil, nil, err
	}
	request := "GET " + path + " HTTP/1.1\r\nHost: " + host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Version: 13\r\n\r\n"
	if _, err := conn.Write([]byte(request)); err != nil {
		conn.Close()
		return nil, nil, err
	}
	head := make([]byte, 0, 4096)
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			conn.Close()
			return nil, nil, err
		}
		head = append(head, buf[:n]...)
		if end := strings.Index(string(head), "\r\n\r\n"); end >= 0 {
			if !strings.HasPrefix(string(head), "HTTP/1.1 101") {
				conn.Close()
				return nil, nil, fmt.Errorf("upgrade refused: %q", head[:12])
			}
			return conn, head[end+4:], nil
		}
	}
}

// read counts the frames that arrive until the connection ends.
func (s *subscriber) read(run *fanoutRun, first []byte) {
	buf := make([]byte, 32*1024)
	n := copy(buf, first)
	perPublisher := make([]int64, len(s.next))
	for {
		start, count := 0, int64(0)
		for n-start >= 2 {
			b0, length, head := buf[start], int(buf[start+1]&0x7f), 2
			if length == 126 {
				if n-start < 4 {
					break
				}
				length, head = int(binary.BigEndian.Uint16(buf[start+2:])), 4
			} else if length == 127 {
				if n-start < 10 {
					break
				}
				length, head = int(binary.BigEndian.Uint64(buf[start+2:])), 10
			}
			if n-start < head+length {
				break
			}
			data := buf[start+head : start+head+length]
			start += head + length
			switch b0 {
			case 0x82: // a whole binary message: a delivery
				if s.check(data, perPublisher) {
					count++
				}
			case 0x81: // a whole text message: the welcome
				if s.worker == 0 {
					s.worker, _ = strconv.Atoi(strings.TrimPrefix(string(data), "w"))
					close(s.welcomed)
				} else {
					atomic.AddInt64(&s.badFrames, 1)
				}
			case 0x88: // close
				return
			default:
				atomic.AddInt64(&s.badFrames, 1)
			}
		}
		if count > 0 {
			atomic.AddInt64(&s.delivered, count)
			atomic.AddInt64(&run.total, count)
			for p, k := range perPublisher {
				if k > 0 {
					atomic.AddInt64(&run.delivered[p], k)
					perPublisher[p] = 0
				}
			}
			if atomic.CompareAndSwapInt32(&s.registered, 0, 1) {
				atomic.AddInt64(&run.registered, 1)
			}
			for _, wake := range run.wakes {
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		}
		n = copy(buf, buf[start:n])
		if n == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
		}
		m, err := s.conn.Read(buf[n:])
		if err != nil {
			return
		}
		atomic.AddInt64(&s.reads, 1)
		n += m
	}
}

// check reads a message's publisher and sequence number.
func (s *subscriber) check(data []byte, perPublisher []int64) bool {
	if len(data) < 12 {
		atomic.AddInt64(&s.badFrames, 1)
		return false
	}
	p := int(binary.BigEndian.Uint32(data))
	if p >= len(s.next) {
		atomic.AddInt64(&s.badFrames, 1)
		return false
	}
	seq := binary.BigEndian.Uint64(data[4:])
	next := atomic.LoadUint64(&s.next[p])
	switch {
	case next != 0 && seq < next:
		atomic.AddInt64(&s.reordered, 1)
		return true
	case next != 0 && seq > next:
		atomic.AddInt64(&s.lost, int64(seq-next))
	}
	atomic.StoreUint64(&s.next[p], seq+1)
	perPublisher[p]++
	return true
}

// dialSubscribers opens n raw subscribers, 64 at a time, and waits for
// each welcome.
func dialSubscribers(c config, run *fanoutRun) error {
	run.subs = make([]*subscriber, c.conns)
	errs := make(chan error, c.conns)
	var next int64 = -1
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(atomic.AddInt64(&next, 1))
				if i >= c.conns {
					return
				}
				conn, first, err := dialRaw(endpoint(c.url, "/sub"))
				if err != nil {
					errs <- err
					return
				}
				s := &subscriber{
					conn:     conn,
					next:     make([]uint64, c.publishers),
					welcomed: make(chan struct{}),
				}
				run.subs[i] = s
				go s.read(run, first)
				select {
				case <-s.welcomed:
				case <-time.After(10 * time.Second):
					errs <- fmt.Errorf("subscriber %d got no welcome", i)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
