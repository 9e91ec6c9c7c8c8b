// service: a service-sized program (much of the standard library linked in, see linked.go) with
// a realistic heap: packages of GOROOT/src parsed and type-checked with go/parser and go/types
// (ASTs and full types.Info kept in globals), a TLS and a plain HTTP server under httptest with
// requests in flight (client goroutines blocked on handlers that wait), a cache of JSON-decoded
// documents, compiled templates and regexps, an in-memory SQL driver with open rows, archives,
// images, big numbers, a structured logger and the program's own ELF symbols.
//
// Usage: service DUMPFILE [SIZE]. SIZE (default 1) scales the heap: 1 gives a ~15 MB dump, 3 a
// ~40 MB one. It writes the dump and prints one JSON line of facts: addresses of objects, the
// global that holds each, and a sample of objects with their types as reflect names them.
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"database/sql"
	"database/sql/driver"
	"debug/elf"
	"encoding/gob"
	"encoding/json"
	"encoding/xml"
	"expvar"
	"fmt"
	"go/ast"
	"go/build"
	"go/doc"
	"go/format"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	htmltemplate "html/template"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"unsafe"
)

// Checked is one package parsed and type-checked with everything go/types records.
type Checked struct {
	Path  string
	Files []*ast.File
	Pkg   *types.Package
	Info  *types.Info
	Doc   *doc.Package
}

// Session is what the API server keeps per client.
type Session struct {
	ID      int
	User    string
	Created int64
	Attrs   map[string]string
	Recent  []string
	Payload []byte
}

var (
	fset      = token.NewFileSet()
	imp       types.Importer // type-checks imports from source; keeps every imported package
	checked   []*Checked
	firstFile *ast.File
	mainPkg   *types.Package

	tlsServer *httptest.Server
	apiServer *httptest.Server
	release   = make(chan struct{})
	sessions  = map[string]*Session{}
	sessMu    sync.Mutex

	jsonCache  = map[string]any{}
	templates  *template.Template
	pages      *htmltemplate.Template
	patterns   []*regexp.Regexp
	db         *sql.DB
	openRows   *sql.Rows
	archive    *zip.Reader
	tarball    []byte
	images     []image.Image
	factorials []*big.Int
	logger     *slog.Logger
	logBuf     bytes.Buffer
	gobBlob    []byte
	feed       *Feed
	formatted  []byte
	symbols    []elf.Symbol
	counters   = expvar.NewMap("service")
)

// The packages to type-check, in order; SIZE picks how many.
var levels = [][]string{
	{"go/token"},
	{"go/ast", "encoding/json", "net/url", "text/template/parse"},
	{"go/parser", "go/printer"},
	{"net/http"},
	{"go/types"},
	{"crypto/tls", "text/template"},
	{"net", "crypto/x509", "encoding/xml"},
	{"go/build", "archive/zip", "image/png"},
}

type sample struct {
	Addr string `json:"addr"`
	Type string `json:"type"`
}

var samples []sample

func record(p any) {
	v := reflect.ValueOf(p)
	samples = append(samples, sample{fmt.Sprintf("%#x", v.Pointer()), v.Type().Elem().String()})
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}

func goroot() string {
	if r := os.Getenv("GOROOT"); r != "" {
		return r
	}
	return runtime.GOROOT()
}

// typeCheck parses and type-checks the standard library package at path with full info.
func typeCheck(path string) *Checked {
	bp, err := build.Default.Import(path, "", 0)
	check(err)
	var files []*ast.File
	for _, name := range bp.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(bp.Dir, name), nil, parser.ParseComments)
		check(err)
		files = append(files, f)
	}
	info := &types.Info{
		Types:      map[ast.Expr]types.TypeAndValue{},
		Defs:       map[*ast.Ident]types.Object{},
		Uses:       map[*ast.Ident]types.Object{},
		Implicits:  map[ast.Node]types.Object{},
		Selections: map[*ast.SelectorExpr]*types.Selection{},
		Scopes:     map[ast.Node]*types.Scope{},
		Instances:  map[*ast.Ident]types.Instance{},
	}
	conf := types.Config{Importer: imp, Error: func(error) {}}
	pkg, _ := conf.Check(path, fset, files, info)
	c := &Checked{Path: path, Files: files, Pkg: pkg, Info: info}
	if len(checked) == 0 {
		// Documentation of the first package (it rewrites the files' comments: a copy).
		dfiles := make([]*ast.File, 0, len(files))
		for _, name := range bp.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(bp.Dir, name), nil,
				parser.ParseComments)
			check(err)
			dfiles = append(dfiles, f)
		}
		c.Doc, _ = doc.NewFromFiles(fset, dfiles, path)
	}
	return c
}

// summarize turns a checked package's scope into JSON documents, as an API would serve them.
func summarize(c *Checked) []byte {
	type object struct {
		Name     string   `json:"name"`
		Kind     string   `json:"kind"`
		Type     string   `json:"type"`
		Pos      string   `json:"pos"`
		Exported bool     `json:"exported"`
		Methods  []string `json:"methods,omitempty"`
	}
	scope := c.Pkg.Scope()
	var out []object
	for _, name := range scope.Names() {
		o := scope.Lookup(name)
		ob := object{Name: name, Kind: fmt.Sprintf("%T", o), Type: o.Type().String(),
			Pos: fset.Position(o.Pos()).String(), Exported: o.Exported()}
		if tn, ok := o.(*types.TypeName); ok {
			ms := types.NewMethodSet(types.NewPointer(tn.Type()))
			for i := 0; i < ms.Len(); i++ {
				ob.Methods = append(ob.Methods, ms.At(i).Obj().Name())
			}
		}
		out = append(out, ob)
	}
	js, err := json.Marshal(map[string]any{"path": c.Path, "objects": out})
	check(err)
	return js
}

// The in-memory SQL driver behind db: one table of (id, name, score) rows.
type memDriver struct{ rows [][]driver.Value }
type memConn struct{ d *memDriver }
type memStmt struct{ d *memDriver }
type memRows struct {
	d *memDriver
	i int
}

func (d *memDriver) Open(string) (driver.Conn, error)  { return &memConn{d}, nil }
func (c *memConn) Prepare(string) (driver.Stmt, error) { return &memStmt{c.d}, nil }
func (c *memConn) Close() error                        { return nil }
func (c *memConn) Begin() (driver.Tx, error)           { return nil, io.EOF }
func (s *memStmt) Close() error                        { return nil }
func (s *memStmt) NumInput() int                       { return -1 }
func (s *memStmt) Exec([]driver.Value) (driver.Result, error) {
	return nil, io.EOF
}
func (s *memStmt) Query([]driver.Value) (driver.Rows, error) { return &memRows{d: s.d}, nil }
func (r *memRows) Columns() []string                         { return []string{"id", "name", "score"} }
func (r *memRows) Close() error                              { return nil }
func (r *memRows) Next(dest []driver.Value) error {
	if r.i >= len(r.d.rows) {
		return io.EOF
	}
	copy(dest, r.d.rows[r.i])
	r.i++
	return nil
}

// Feed is decoded from XML.
type Feed struct {
	XMLName xml.Name `xml:"feed"`
	Title   string   `xml:"title"`
	Entries []struct {
		ID    string   `xml:"id"`
		Title string   `xml:"title"`
		Tags  []string `xml:"tag"`
	} `xml:"entry"`
}

func buildStores(size int) {
	// Templates and regexps.
	templates = template.Must(template.New("page").Funcs(template.FuncMap{
		"upper": strings.ToUpper}).Parse(`{{define "row"}}<{{.Name | upper}}>{{end}}` +
		`{{range .}}{{template "row" .}}{{end}}`))
	pages = htmltemplate.Must(htmltemplate.New("index").Parse(
		`<html><body>{{range .}}<a href="/pkg/{{.}}">{{.}}</a>{{end}}</body></html>`))
	check(pages.Execute(io.Discard, []string{"a", "b"}))
	for i, p := range []string{`^/api/v(\d+)/sessions/([a-z0-9-]+)$`, `(?i)bearer\s+(\S+)`,
		`^[\w.+-]+@[\w-]+\.[\w.]+$`, `\b(?:GET|POST|PUT|DELETE)\b`, `\d{4}-\d{2}-\d{2}`} {
		for j := 0; j < size; j++ {
			patterns = append(patterns, regexp.MustCompile(p+strings.Repeat(`|x`, i+j)))
		}
	}
	// The SQL store.
	d := &memDriver{}
	for i := 0; i < 2000*size; i++ {
		d.rows = append(d.rows, []driver.Value{int64(i), "user-" + strconv.Itoa(i), float64(i) / 7})
	}
	sql.Register("mem", d)
	var err error
	db, err = sql.Open("mem", "")
	check(err)
	openRows, err = db.Query("SELECT id, name, score FROM users")
	check(err)
	openRows.Next()
	// Archives, images, numbers, a logger, gob and XML.
	var zbuf, tbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	tw := tar.NewWriter(&tbuf)
	for i := 0; i < 50*size; i++ {
		name := fmt.Sprintf("docs/file-%04d.txt", i)
		body := bytes.Repeat([]byte(name+"\n"), 20)
		w, err := zw.Create(name)
		check(err)
		w.Write(body)
		check(tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))}))
		tw.Write(body)
	}
	check(zw.Close())
	check(tw.Close())
	archive, err = zip.NewReader(bytes.NewReader(zbuf.Bytes()), int64(zbuf.Len()))
	check(err)
	var gz bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(tbuf.Bytes())
	gw.Close()
	tarball = gz.Bytes()
	for i := 0; i < 4*size; i++ {
		img := image.NewRGBA(image.Rect(0, 0, 64+i, 48))
		for x := 0; x < 64+i; x++ {
			img.Set(x, x%48, color.RGBA{uint8(x), uint8(i), 200, 255})
		}
		var pbuf bytes.Buffer
		check(png.Encode(&pbuf, img))
		dec, err := png.Decode(&pbuf)
		check(err)
		images = append(images, dec)
	}
	f := big.NewInt(1)
	for i := 1; i <= 300*size; i++ {
		f = new(big.Int).Mul(f, big.NewInt(int64(i)))
		if i%10 == 0 {
			factorials = append(factorials, f)
		}
	}
	logger = slog.New(slog.NewJSONHandler(&logBuf, nil)).With("service", "heapspurs-test")
	var gbuf bytes.Buffer
	check(gob.NewEncoder(&gbuf).Encode(d.rows[:100]))
	gobBlob = gbuf.Bytes()
	var xb strings.Builder
	xb.WriteString("<feed><title>changes</title>")
	for i := 0; i < 200*size; i++ {
		fmt.Fprintf(&xb, "<entry><id>%d</id><title>change %d</title><tag>a</tag><tag>t%d</tag>"+
			"</entry>", i, i, i%7)
	}
	xb.WriteString("</feed>")
	feed = &Feed{}
	check(xml.Unmarshal([]byte(xb.String()), feed))
	formatted, err = format.Source([]byte("package p\nfunc  f( ) {return}\n"))
	check(err)
	if exe, err := os.Executable(); err == nil {
		if ef, err := elf.Open(exe); err == nil {
			all, _ := ef.Symbols()
			for _, sym := range all { // the HTTP server's, as a profiler would keep them
				if strings.HasPrefix(sym.Name, "net/http.") {
					symbols = append(symbols, sym)
				}
			}
			ef.Close()
		}
	}
}

func handleSlow(w http.ResponseWriter, r *http.Request) {
	counters.Add("slow", 1)
	sessMu.Lock()
	s := &Session{ID: len(sessions), User: r.URL.Query().Get("user"), Attrs: map[string]string{
		"agent": r.UserAgent(), "path": r.URL.Path}, Payload: make([]byte, 2048)}
	sessions[s.User] = s
	sessMu.Unlock()
	arrived.Done()
	<-release
	io.WriteString(w, "done")
}

var arrived sync.WaitGroup

func serve(size int) {
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", handleSlow)
	mux.HandleFunc("/pkg/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(jsonCache[strings.TrimPrefix(r.URL.Path, "/pkg/")])
	})
	mux.Handle("/debug/vars", expvar.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	tlsServer = httptest.NewTLSServer(mux)
	apiServer = httptest.NewServer(mux)
	// Fetch every cached document once over TLS (the cache is warm, connections are reused).
	keys := make([]string, 0, len(jsonCache))
	for k := range jsonCache {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	client := tlsServer.Client()
	for _, k := range keys {
		resp, err := client.Get(tlsServer.URL + "/pkg/" + k)
		check(err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// Requests in flight: their handlers wait on release.
	n := 8 * size
	arrived.Add(2 * n)
	for i := 0; i < n; i++ {
		go func(i int) {
			resp, err := client.Get(fmt.Sprintf("%s/slow?user=tls-%d", tlsServer.URL, i))
			if err == nil {
				resp.Body.Close()
			}
		}(i)
		go func(i int) {
			resp, err := http.Get(fmt.Sprintf("%s/slow?user=plain-%d", apiServer.URL, i))
			if err == nil {
				resp.Body.Close()
			}
		}(i)
	}
	arrived.Wait()
}

func main() {
	runtime.MemProfileRate = 0
	size := 1
	if len(os.Args) > 2 {
		var err error
		size, err = strconv.Atoi(os.Args[2])
		check(err)
	}
	build.Default.GOROOT = goroot()
	build.Default.CgoEnabled = false
	imp = importer.ForCompiler(fset, "source", nil)
	for i, level := range levels {
		if i >= size {
			break
		}
		for _, path := range level {
			checked = append(checked, typeCheck(path))
		}
	}
	for _, c := range checked {
		var doc any
		check(json.Unmarshal(summarize(c), &doc))
		jsonCache[c.Path] = doc
	}
	firstFile = checked[0].Files[0]
	mainPkg = checked[0].Pkg
	buildStores(size)
	serve(size)

	record(firstFile)
	record(mainPkg)
	record(checked[0])
	record(checked[0].Info)
	for _, c := range checked {
		for _, f := range c.Files[:1] {
			record(f)
			record(f.Name)
		}
		if o, ok := c.Pkg.Scope().Lookup(c.Pkg.Scope().Names()[0]).(*types.TypeName); ok {
			record(o)
		}
	}
	record(tlsServer)
	record(db)
	record(openRows)
	record(archive)
	record(feed)
	record(logger)
	sessMu.Lock()
	for _, s := range sessions {
		if s.ID%5 == 0 {
			record(s)
		}
	}
	sessMu.Unlock()

	out, err := os.Create(os.Args[1])
	check(err)
	runtime.GC()
	debug.WriteHeapDump(out.Fd())
	out.Close()
	var files, idents int
	for _, c := range checked {
		files += len(c.Files)
		idents += len(c.Info.Defs) + len(c.Info.Uses)
	}
	facts := map[string]any{
		"goarch": runtime.GOARCH, "version": runtime.Version(), "size": size,
		"packages":          len(checked),
		"files":             files,
		"idents":            idents,
		"first_file":        fmt.Sprintf("%#x", unsafe.Pointer(firstFile)),
		"first_file_global": "main.firstFile",
		"package":           fmt.Sprintf("%#x", unsafe.Pointer(mainPkg)),
		"package_global":    "main.mainPkg",
		"package_path":      mainPkg.Path(),
		"in_flight":         len(sessions),
		"samples":           samples,
	}
	js, err := json.Marshal(facts)
	check(err)
	fmt.Println(string(js))
	os.Exit(0)
}
