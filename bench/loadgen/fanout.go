package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// The fanout mode drives bench/servers/topics_workers.ts: conns subscribers
// on /sub and publishers on /pub, each publisher keeping inflight messages
// in flight (sent minus delivered to the average subscriber). Each message
// carries its publisher's number and a sequence number, and every
// subscriber checks that it gets every message of every publisher, in
// order. Both endpoints welcome a connection with its worker ("w1"), which
// gives how the kernel spread the connections; publishers are redialled
// until the workers hold equal shares of them, so that each worker
// publishes.

// fanoutRun is the shared state of one run.
type fanoutRun struct {
	subs       []*subscriber
	delivered  []int64 // atomic, per publisher: deliveries to all subscribers
	total      int64   // atomic: every delivery
	registered int64   // atomic: subscribers that got a message
	wakes      []chan struct{}
}

// publisher sends numbered messages, keeping inflight of them undelivered.
type publisher struct {
	index  int
	cl     *client
	worker int
	sent   int64 // atomic
}

func (p *publisher) pump(run *fanoutRun, c config, stop *int32) {
	msg := payload(c.size)
	binary.BigEndian.PutUint32(msg, uint32(p.index))
	subs := int64(len(run.subs))
	wake := run.wakes[p.index]
	ahead := func() int64 {
		return atomic.LoadInt64(&p.sent) - atomic.LoadInt64(&run.delivered[p.index])/subs
	}
	for atomic.LoadInt32(stop) == 0 {
		if ahead() >= int64(c.inflight) {
			select {
			case <-wake:
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		p.cl.conn.Hold()
		for ahead() < int64(c.inflight) {
			binary.BigEndian.PutUint64(msg[4:], uint64(atomic.LoadInt64(&p.sent)))
			if err := p.cl.ws.WriteMessage(websocket.BinaryMessage, msg); err != nil {
				return
			}
			atomic.AddInt64(&p.sent, 1)
		}
		if err := p.cl.conn.Flush(); err != nil {
			return
		}
	}
}

// welcomeOf reads a gorilla connection's welcome: its worker's number.
func welcomeOf(cl *client) (int, error) {
	_, data, err := cl.ws.ReadMessage()
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimPrefix(string(data), "w"))
}

// dialPublishers opens publishers whose workers hold equal shares of them,
// redialling (up to a limit) those the kernel sends to a worker that holds
// its share already.
func dialPublishers(c config) ([]*publisher, error) {
	share := (c.publishers + c.workers - 1) / c.workers
	held := make(map[int]int)
	var pubs []*publisher
	for tries := 0; len(pubs) < c.publishers; tries++ {
		if tries > 50*c.publishers {
			return nil, fmt.Errorf("publishers do not spread: %v", held)
		}
		cl, err := dial(endpoint(c.url, "/pub"), c.size)
		if err != nil {
			return nil, err
		}
		worker, err := welcomeOf(cl)
		if err != nil {
			return nil, err
		}
		if held[worker] >= share {
			cl.conn.Conn.Close()
			continue
		}
		held[worker]++
		pubs = append(pubs, &publisher{index: len(pubs), cl: cl, worker: worker})
	}
	return pubs, nil
}

// serverStats fetches the server's per-worker counters.
func serverStats(c config) (interface{}, error) {
	response, err := http.Get("http" + strings.TrimPrefix(endpoint(c.url, "/stats"), "ws"))
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()
	var stats interface{}
	err = json.NewDecoder(bufio.NewReader(response.Body)).Decode(&stats)
	return stats, err
}

// runFanout measures deliveries per second from publishers on /pub to
// subscribers on /sub, then stops publishing, waits for every message to
// arrive and reports what did not.
func runFanout(c config) (result, error) {
	if c.size < 12 {
		return result{}, fmt.Errorf("size %d is under the 12 bytes of a sequence number", c.size)
	}
	run := &fanoutRun{delivered: make([]int64, c.publishers)}
	for i := 0; i < c.publishers; i++ {
		run.wakes = append(run.wakes, make(chan struct{}, 1))
	}
	if err := dialSubscribers(c, run); err != nil {
		return result{}, err
	}
	defer func() {
		for _, s := range run.subs {
			if s != nil {
				s.conn.Close()
			}
		}
	}()
	pubs, err := dialPublishers(c)
	if err != nil {
		return result{}, err
	}
	defer func() {
		for _, p := range pubs {
			p.cl.conn.Conn.Close()
		}
	}()
	// Every subscriber must be registered on its worker's hub (and that
	// hub on the bus) before counting starts: probe until one message
	// reaches them all.
	probe := pubs[0]
	msg := payload(c.size)
	binary.BigEndian.PutUint32(msg, uint32(probe.index))
	for deadline := time.Now().Add(10 * time.Second); atomic.LoadInt64(&run.registered) < int64(c.conns); {
		if time.Now().After(deadline) {
			return result{}, fmt.Errorf("only %d of %d subscribers registered", atomic.LoadInt64(&run.registered), c.conns)
		}
		binary.BigEndian.PutUint64(msg[4:], uint64(probe.sent))
		if err := probe.cl.ws.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			return result{}, err
		}
		atomic.AddInt64(&probe.sent, 1)
		time.Sleep(20 * time.Millisecond)
	}
	var stop int32
	var wg sync.WaitGroup
	for _, p := range pubs {
		wg.Add(1)
		go func(p *publisher) {
			defer wg.Done()
			p.pump(run, c, &stop)
		}(p)
	}
	// The window as window() measures it, with each server thread's CPU
	// read around it too.
	time.Sleep(c.warmup)
	measured := c
	measured.warmup = 0
	counting := startPerf(c)
	threads0, start := threadTicks(c.pid), time.Now()
	detail := map[string]interface{}{}
	// In milliseconds since the epoch, to place the server's --trace-gc
	// lines (timed from each worker's start) in or out of the window.
	detail["window"] = []int64{start.UnixMilli(), start.Add(c.duration).UnixMilli()}
	rates, cpu := window(measured, &run.total)
	threads := threadShares(threads0, threadTicks(c.pid), time.Since(start).Seconds())
	counts := counting()
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	for key, value := range drainAndCheck(run, pubs) {
		detail[key] = value
	}
	detail["threads"] = threads
	if counts != nil {
		detail["perf"] = counts
	}
	if stats, err := serverStats(c); err == nil {
		detail["server"] = stats
	} else {
		detail["server"] = err.Error()
	}
	return result{
		Metrics: map[string]float64{
			"deliveries/s": rates[0],
			"publishes/s":  rates[0] / float64(c.conns),
		},
		CPU:    cpu,
		Detail: detail,
	}, nil
}

// drainAndCheck waits (up to ten seconds) until every subscriber has the
// last message of every publisher, then counts what went wrong.
func drainAndCheck(run *fanoutRun, pubs []*publisher) map[string]interface{} {
	complete := func() int {
		missing := 0
		for _, s := range run.subs {
			for _, p := range pubs {
				if atomic.LoadUint64(&s.next[p.index]) != uint64(atomic.LoadInt64(&p.sent)) {
					missing++
					break
				}
			}
		}
		return missing
	}
	incomplete := complete()
	for deadline := time.Now().Add(10 * time.Second); incomplete > 0 && time.Now().Before(deadline); incomplete = complete() {
		time.Sleep(10 * time.Millisecond)
	}
	var lost, reordered, bad, reads int64
	subsPerWorker := map[string]int{}
	deliveriesPerWorker := map[string]int64{}
	minDelivered, maxDelivered := int64(-1), int64(0)
	for _, s := range run.subs {
		lost += atomic.LoadInt64(&s.lost)
		reordered += atomic.LoadInt64(&s.reordered)
		bad += atomic.LoadInt64(&s.badFrames)
		reads += atomic.LoadInt64(&s.reads)
		w := fmt.Sprintf("w%d", s.worker)
		subsPerWorker[w]++
		d := atomic.LoadInt64(&s.delivered)
		deliveriesPerWorker[w] += d
		if minDelivered < 0 || d < minDelivered {
			minDelivered = d
		}
		if d > maxDelivered {
			maxDelivered = d
		}
	}
	pubsPerWorker := map[string]int{}
	var sent int64
	for _, p := range pubs {
		pubsPerWorker[fmt.Sprintf("w%d", p.worker)]++
		sent += atomic.LoadInt64(&p.sent)
	}
	return map[string]interface{}{
		"lost":                lost,
		"reads":               reads,
		"reordered":           reordered,
		"badFrames":           bad,
		"incomplete":          incomplete,
		"sent":                sent,
		"subscribers":         subsPerWorker,
		"publishers":          pubsPerWorker,
		"deliveriesPerWorker": deliveriesPerWorker,
		"minDelivered":        minDelivered,
		"maxDelivered":        maxDelivered,
	}
}
