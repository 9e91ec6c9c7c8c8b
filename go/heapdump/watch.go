package heapdump

import (
	"context"
	"errors"
	"log"
	"runtime/metrics"
	"time"
)

// Config says when Watch writes dumps.
type Config struct {
	Dir        string        // where the dumps go (named by FileName); must be writable
	AboveBytes uint64        // write a dump when the live heap's objects take more than this
	Interval   time.Duration // how often to look (default 10s)
	MaxDumps   int           // stop after this many dumps (default 1)
	MinGap     time.Duration // at least this long between two dumps (default 1m)
}

const heapObjects = "/memory/classes/heap/objects:bytes"

// Watch samples the heap (runtime/metrics: the bytes of heap objects) every Interval and writes
// a dump into Dir when it is above AboveBytes, at most MaxDumps times, at least MinGap apart. A
// dump is skipped (and logged) when the disk holding Dir has less free space than the heap. It
// returns when ctx is done or MaxDumps dumps are written, and refuses to start (an error at
// once) when Dir is not writable or AboveBytes is 0.
//
//	go func() {
//		err := heapdump.Watch(ctx, heapdump.Config{Dir: "/var/tmp", AboveBytes: 2 << 30})
//		if err != nil {
//			log.Print(err)
//		}
//	}()
func Watch(ctx context.Context, cfg Config) error {
	if cfg.AboveBytes == 0 {
		return errors.New("heapdump: Watch needs AboveBytes")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.MaxDumps <= 0 {
		cfg.MaxDumps = 1
	}
	if cfg.MinGap <= 0 {
		cfg.MinGap = time.Minute
	}
	if err := checkWritable(cfg.Dir); err != nil {
		return err
	}
	sample := []metrics.Sample{{Name: heapObjects}}
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	written := 0
	var last time.Time
	for {
		metrics.Read(sample)
		heap := sample[0].Value.Uint64()
		if heap > cfg.AboveBytes && (last.IsZero() || time.Since(last) >= cfg.MinGap) {
			if free, ok := freeBytes(cfg.Dir); ok && free < heap {
				log.Printf("heapdump: skipping a dump: %d bytes free in %s, the heap holds %d",
					free, cfg.Dir, heap)
			} else if err := WriteFile(FileName(cfg.Dir)); err != nil {
				log.Printf("%v", err)
			} else {
				written++
				last = time.Now()
				if written >= cfg.MaxDumps {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
