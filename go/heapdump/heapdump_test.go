package heapdump

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

const header = "go1.7 heap dump\n"

// keep copies a dump the test wrote to $HEAPDUMP_KEEP (heapspurs's tests read each one).
func keep(t *testing.T, path string) {
	dir := os.Getenv("HEAPDUMP_KEEP")
	if dir == "" {
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	name := t.Name() + "-" + filepath.Base(path)
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func isDump(t *testing.T, data []byte) {
	t.Helper()
	if !bytes.HasPrefix(data, []byte(header)) {
		t.Fatalf("not a heap dump: %q", data[:min(len(data), 32)])
	}
}

func dumpsIn(t *testing.T, dir string) []string {
	t.Helper()
	found, err := filepath.Glob(filepath.Join(dir, "*.heapdump"))
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func TestWriteFileIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.heapdump")
	if err := WriteFile(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	isDump(t, data)
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	keep(t, path)
	if err := WriteFile(filepath.Join(dir, "missing", "x.heapdump")); err == nil {
		t.Fatal("no error for a folder that does not exist")
	}
}

func TestHandlerServesOneDumpAtATime(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	testHookWriting = func() {
		entered <- struct{}{}
		<-release
	}
	defer func() { testHookWriting = func() {} }()
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	type answer struct {
		resp *http.Response
		body []byte
		err  error
	}
	first := make(chan answer, 1)
	go func() {
		resp, err := http.Get(srv.URL + "?gc=0")
		if err != nil {
			first <- answer{err: err}
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		first <- answer{resp, body, err}
	}()
	<-entered // the first request is writing its dump
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a second request while one is written: %s, want 429", resp.Status)
	}
	close(release)
	a := <-first
	if a.err != nil {
		t.Fatal(a.err)
	}
	if a.resp.StatusCode != http.StatusOK {
		t.Fatalf("first request: %s", a.resp.Status)
	}
	if n, _ := strconv.Atoi(a.resp.Header.Get("Content-Length")); n != len(a.body) || n == 0 {
		t.Fatalf("Content-Length %q for %d bytes", a.resp.Header.Get("Content-Length"), len(a.body))
	}
	isDump(t, a.body)
	path := filepath.Join(t.TempDir(), "served.heapdump")
	os.WriteFile(path, a.body, 0o644)
	keep(t, path)
	resp, err = http.Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %s", resp.Status)
	}
}

func TestOnSignalWritesOneDumpPerSignal(t *testing.T) {
	dir := t.TempDir()
	stop := OnSignal(dir, syscall.SIGUSR1)
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(dumpsIn(t, dir)) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	found := dumpsIn(t, dir)
	if len(found) != 1 {
		t.Fatalf("%d dumps after one SIGUSR1: %v", len(found), found)
	}
	data, _ := os.ReadFile(found[0])
	isDump(t, data)
	keep(t, found[0])
}

var ballast [][]byte

func TestWatchWritesMaxDumpsAboveTheLimit(t *testing.T) {
	for i := 0; i < 64; i++ {
		ballast = append(ballast, make([]byte, 256<<10)) // 16 MB live
	}
	defer func() { ballast = nil }()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := Watch(ctx, Config{Dir: dir, AboveBytes: 8 << 20, Interval: 10 * time.Millisecond,
		MaxDumps: 2, MinGap: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	found := dumpsIn(t, dir)
	if len(found) != 2 {
		t.Fatalf("%d dumps, want MaxDumps = 2", len(found))
	}
	for _, f := range found {
		keep(t, f)
	}
	runtime.KeepAlive(ballast)
}

func TestWatchWritesNothingBelowTheLimit(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := Watch(ctx, Config{Dir: dir, AboveBytes: 1 << 40, Interval: 10 * time.Millisecond})
	if err != context.DeadlineExceeded {
		t.Fatalf("Watch returned %v, want the context's deadline", err)
	}
	if found := dumpsIn(t, dir); len(found) != 0 {
		t.Fatalf("dumps below the limit: %v", found)
	}
}

func TestWatchRefusesAFolderItCannotWrite(t *testing.T) {
	err := Watch(context.Background(), Config{Dir: filepath.Join(t.TempDir(), "missing"),
		AboveBytes: 1})
	if err == nil {
		t.Fatal("Watch started without a writable folder")
	}
	if err := Watch(context.Background(), Config{Dir: t.TempDir()}); err == nil {
		t.Fatal("Watch started without AboveBytes")
	}
}

func TestFileNameSaysProgramPidAndTime(t *testing.T) {
	name := filepath.Base(FileName("/tmp"))
	want := filepath.Base(os.Args[0]) + "-" + strconv.Itoa(os.Getpid()) + "-"
	if !bytes.HasPrefix([]byte(name), []byte(want)) || filepath.Ext(name) != ".heapdump" {
		t.Fatalf("FileName = %q", name)
	}
}
