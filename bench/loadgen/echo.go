package main

import (
	"fmt"
	"io"
	"sort"
	"sync/atomic"
	"time"
)

// window waits out the warmup, then measures duration: it returns the
// growth of each counter per second and the CPU shares.
func window(c config, counters ...*int64) ([]float64, cpuShare) {
	time.Sleep(c.warmup)
	before := make([]int64, len(counters))
	for i, p := range counters {
		before[i] = atomic.LoadInt64(p)
	}
	meter := startMeter(c.pid)
	start := time.Now()
	time.Sleep(c.duration)
	rates := make([]float64, len(counters))
	seconds := time.Since(start).Seconds()
	for i, p := range counters {
		rates[i] = float64(atomic.LoadInt64(p)-before[i]) / seconds
	}
	return rates, meter.stop()
}

// pump keeps a connection's tokens turned into messages: it waits for one,
// then writes every message it may send now in one batch.
func pump(cl *client, mt int, msg []byte, tokens chan struct{}, stop *int32) {
	for range tokens {
		if atomic.LoadInt32(stop) != 0 {
			return
		}
		cl.conn.Hold()
		err := cl.ws.WriteMessage(mt, msg)
		for more := true; more && err == nil; {
			select {
			case <-tokens:
				err = cl.ws.WriteMessage(mt, msg)
			default:
				more = false
			}
		}
		if err == nil {
			err = cl.conn.Flush()
		}
		if err != nil {
			return
		}
	}
}

// counter discards what is written to it and counts the bytes as they
// come, so that a window shorter than a few large messages still measures
// bytes rather than whole messages.
type counter struct {
	bytes *int64
}

func (c counter) Write(p []byte) (int, error) {
	atomic.AddInt64(c.bytes, int64(len(p)))
	return len(p), nil
}

// drain counts the messages (and their bytes) that arrive on a connection,
// returning a token for each.
func drain(cl *client, tokens chan struct{}, messages, bytes *int64) {
	sink := counter{bytes}
	buffer := make([]byte, 64*1024)
	for {
		_, r, err := cl.ws.NextReader()
		if err != nil {
			return
		}
		if _, err := io.CopyBuffer(sink, r, buffer); err != nil {
			return
		}
		atomic.AddInt64(messages, 1)
		if tokens != nil {
			tokens <- struct{}{}
		}
	}
}

// runEcho keeps inflight messages in flight on each of conns connections.
func runEcho(c config) (result, error) {
	clients, err := dialMany(c.url, c.size, c.conns)
	if err != nil {
		return result{}, err
	}
	defer closeAll(clients)
	msg := payload(c.size)
	mt := messageType(c)
	var messages, bytes int64
	var stop int32
	for _, cl := range clients {
		tokens := make(chan struct{}, c.inflight)
		for i := 0; i < c.inflight; i++ {
			tokens <- struct{}{}
		}
		go pump(cl, mt, msg, tokens, &stop)
		go drain(cl, tokens, &messages, &bytes)
	}
	rates, cpu := window(c, &messages, &bytes)
	atomic.StoreInt32(&stop, 1)
	return result{
		Metrics: map[string]float64{"msg/s": rates[0], "MB/s": rates[1] / 1e6},
		CPU:     cpu,
	}, nil
}

// runLatency sends one message at a time and times each round trip.
func runLatency(c config) (result, error) {
	cl, err := dial(c.url, c.size)
	if err != nil {
		return result{}, err
	}
	defer closeAll([]*client{cl})
	msg := payload(c.size)
	mt := messageType(c)
	roundTrip := func() (time.Duration, error) {
		start := time.Now()
		if err := cl.ws.WriteMessage(mt, msg); err != nil {
			return 0, err
		}
		_, r, err := cl.ws.NextReader()
		if err != nil {
			return 0, err
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return 0, err
		}
		return time.Since(start), nil
	}
	for end := time.Now().Add(c.warmup); time.Now().Before(end); {
		if _, err := roundTrip(); err != nil {
			return result{}, err
		}
	}
	meter := startMeter(c.pid)
	var samples []time.Duration
	for end := time.Now().Add(c.duration); time.Now().Before(end); {
		d, err := roundTrip()
		if err != nil {
			return result{}, err
		}
		samples = append(samples, d)
	}
	cpu := meter.stop()
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	at := func(q float64) float64 {
		i := int(q * float64(len(samples)))
		if i >= len(samples) {
			i = len(samples) - 1
		}
		return float64(samples[i].Nanoseconds()) / 1e3
	}
	return result{
		Metrics: map[string]float64{"p50 µs": at(0.5), "p99 µs": at(0.99)},
		CPU:     cpu,
		Note:    fmt.Sprintf("%d round trips", len(samples)),
	}, nil
}
