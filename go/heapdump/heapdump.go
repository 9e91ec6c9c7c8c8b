// Package heapdump takes heap dumps of a running Go program for heapspurs, the way
// net/http/pprof serves profiles: over HTTP on request, on a signal, or when the heap grows past
// a limit.
//
//	mux.Handle("/debug/heapdump", heapdump.Handler())     // then: heapspurs http://host:port/debug/heapdump
//	stop := heapdump.OnSignal("/var/tmp", syscall.SIGUSR1) // kill -USR1 PID writes a dump
//	go heapdump.Watch(ctx, heapdump.Config{Dir: "/var/tmp", AboveBytes: 2 << 30})
//
// A dump is what runtime/debug.WriteHeapDump writes: every live object, goroutine stack,
// global and finalizer. heapspurs (https://github.com/heapspurs/heapspurs) reads it: what an
// object is, what keeps it alive, what holds most of the memory.
//
// What a dump costs: WriteHeapDump stops the world while it writes, and a dump is a little
// bigger than the heap. Measured on a 2-core x86-64 machine with Go 1.27.3, a heap of 107 MB (a
// million 96-byte objects) gave a 120 MB dump and paused the program for 0.25-0.27 s while it
// was written to a file, and the runtime.GC before it (which Handler, WriteFile, OnSignal and
// Watch run, so that the dump holds only live objects) took 0.03 s: plan for about a quarter of
// a second per 100 MB of heap, and the disk space of the heap.
// Like net/http/pprof's handlers, the handler belongs on an internal or admin listener, never on
// a public one: a dump holds every secret in the heap.
package heapdump

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
)

// writing lets one dump be written at a time in this process: WriteHeapDump stops the world,
// and two at once would only double the pause.
var writing sync.Mutex

// testHookWriting runs when the handler starts a dump (the tests hold a request there).
var testHookWriting = func() {}

// WriteFile writes a heap dump, after a garbage collection, to path: into a temporary file in
// the same folder first, renamed to path once complete, so that path never holds half a dump.
func WriteFile(path string) error {
	return writeFile(path, true)
}

func writeFile(path string, gc bool) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return fmt.Errorf("heapdump: %w", err)
	}
	tmp := f.Name()
	if err := dumpInto(f, gc); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("heapdump: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("heapdump: %w", err)
	}
	return nil
}

// dumpInto writes a dump into the open file f and syncs it.
func dumpInto(f *os.File, gc bool) error {
	writing.Lock()
	defer writing.Unlock()
	if gc {
		runtime.GC()
	}
	debug.WriteHeapDump(f.Fd())
	if err := f.Sync(); err != nil {
		return fmt.Errorf("heapdump: %w", err)
	}
	return nil
}

// FileName is the name a dump of this program gets in dir: the program's name, its process id
// and the time in UTC, e.g. dir/server-4242-20261203T101500.123Z.heapdump.
func FileName(dir string) string {
	program := filepath.Base(os.Args[0])
	stamp := time.Now().UTC().Format("20060102T150405.000Z")
	return filepath.Join(dir, program+"-"+strconv.Itoa(os.Getpid())+"-"+stamp+".heapdump")
}

// Handler serves a fresh heap dump on GET, after a garbage collection (?gc=0 skips it). One
// dump at a time: a request while another is being written gets 429 Too Many Requests. The dump
// is written to a temporary file first (WriteHeapDump stops the world, so it cannot write into
// a connection that a goroutine of this process drains), then sent with its Content-Length and
// removed.
func Handler() http.Handler {
	var busy sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "heapdump: GET a dump", http.StatusMethodNotAllowed)
			return
		}
		if !busy.TryLock() {
			w.Header().Set("Retry-After", "5")
			http.Error(w, "heapdump: a dump is being written; try again", http.StatusTooManyRequests)
			return
		}
		defer busy.Unlock()
		testHookWriting()
		f, err := os.CreateTemp("", "heapdump-*.tmp")
		if err != nil {
			http.Error(w, "heapdump: "+err.Error(), http.StatusInternalServerError)
			return
		}
		defer os.Remove(f.Name())
		defer f.Close()
		if err := dumpInto(f, r.URL.Query().Get("gc") != "0"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		size, err := f.Seek(0, io.SeekEnd)
		if err == nil {
			_, err = f.Seek(0, io.SeekStart)
		}
		if err != nil {
			http.Error(w, "heapdump: "+err.Error(), http.StatusInternalServerError)
			return
		}
		name := filepath.Base(FileName(""))
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodHead {
			return
		}
		io.Copy(w, f)
	})
}

// errNotWritable is returned by Watch for a folder it cannot write dumps into.
var errNotWritable = errors.New("heapdump: the folder for dumps is not writable")

// checkWritable makes and removes a file in dir.
func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".heapdump-check-*")
	if err != nil {
		return fmt.Errorf("%w: %v", errNotWritable, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}
