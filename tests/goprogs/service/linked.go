package main

// What a real service links: each function below is kept in a global so that the linker keeps
// it, with everything it calls, in the binary (a service-sized binary of ~20 MB, with the DWARF
// to match). The heap uses many of these packages too (see main.go).

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/bzip2"
	"compress/flate"
	"compress/gzip"
	"compress/lzw"
	"compress/zlib"
	"container/heap"
	"container/list"
	"container/ring"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"debug/buildinfo"
	"debug/dwarf"
	"debug/elf"
	"debug/gosym"
	"debug/macho"
	"debug/pe"
	"embed"
	"encoding/ascii85"
	"encoding/asn1"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/csv"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"expvar"
	"flag"
	"go/build"
	"go/constant"
	"go/doc"
	"go/format"
	"go/printer"
	"go/scanner"
	"hash/adler32"
	"hash/crc32"
	"hash/crc64"
	"hash/fnv"
	htmltemplate "html/template"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"index/suffixarray"
	"log"
	"log/slog"
	"log/syslog"
	"math/big"
	"math/cmplx"
	mathrand "math/rand"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httputil"
	"net/http/pprof"
	"net/mail"
	"net/netip"
	"net/rpc"
	"net/rpc/jsonrpc"
	"net/smtp"
	"net/textproto"
	"net/url"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"regexp"
	runtimepprof "runtime/pprof"
	"runtime/trace"
	"sort"
	"strconv"
	textscanner "text/scanner"
	"text/tabwriter"
	"text/template"
	"time"
	"unicode/utf16"
)

var linked = []any{
	tar.NewReader, tar.NewWriter, zip.NewReader, zip.NewWriter, bufio.NewReaderSize,
	bzip2.NewReader, flate.NewWriter, gzip.NewReader, gzip.NewWriterLevel, lzw.NewReader,
	lzw.NewWriter, zlib.NewReader, zlib.NewWriterLevel, heap.Init, list.New, ring.New,
	context.WithTimeout, aes.NewCipher, cipher.NewGCM, ecdh.P256, ecdsa.GenerateKey, ecdsa.Sign,
	ed25519.GenerateKey, hmac.New, md5.Sum, rand.Read, rsa.GenerateKey, rsa.SignPKCS1v15,
	sha1.Sum, sha256.New, sha512.New, tls.Dial, tls.Listen, tls.X509KeyPair,
	x509.ParseCertificate, x509.CreateCertificate, x509.SystemCertPool, sql.Open,
	buildinfo.ReadFile, dwarf.New, elf.Open, gosym.NewTable, macho.Open, pe.Open,
	ascii85.NewEncoder, asn1.Marshal, asn1.Unmarshal, base32.NewEncoder, base64.NewEncoder,
	binary.Read, csv.NewReader, csv.NewWriter, gob.NewDecoder, gob.NewEncoder, hex.Dump,
	json.Indent, pem.Decode, pem.Encode, xml.Marshal, xml.NewDecoder, expvar.Handler,
	flag.NewFlagSet, build.Import, constant.MakeFromLiteral, doc.New, doc.NewFromFiles,
	format.Source, printer.Fprint, scanner.PrintError, adler32.Checksum, crc32.ChecksumIEEE,
	crc64.MakeTable, fnv.New64a, htmltemplate.New, htmltemplate.HTMLEscapeString, image.NewRGBA,
	draw.Draw, gif.Decode, gif.EncodeAll, jpeg.Decode, jpeg.Encode, png.Decode, png.Encode,
	suffixarray.New, log.New, slog.New, slog.NewJSONHandler, slog.NewTextHandler, syslog.Dial,
	big.NewFloat, big.NewRat, cmplx.Sqrt, mathrand.New, mime.TypeByExtension,
	multipart.NewReader, multipart.NewWriter, quotedprintable.NewReader, net.Dial, net.Listen,
	net.LookupHost, http.ListenAndServe, http.NewServeMux, cookiejar.New,
	httputil.NewSingleHostReverseProxy, httputil.DumpRequest, pprof.Index, pprof.Profile,
	pprof.Symbol, pprof.Trace, mail.ParseAddress, mail.ReadMessage, netip.ParseAddr,
	netip.ParsePrefix, rpc.NewServer, rpc.Dial, jsonrpc.NewClient, jsonrpc.NewServerCodec,
	smtp.Dial, smtp.PlainAuth, textproto.NewReader, url.Parse, exec.Command, signal.Notify,
	user.Current, filepath.Glob, filepath.WalkDir, regexp.MustCompile,
	runtimepprof.WriteHeapProfile, runtimepprof.StartCPUProfile, trace.Start, sort.Stable,
	strconv.Quote, template.New, tabwriter.NewWriter, time.LoadLocation, utf16.Encode,
	(*textscanner.Scanner).Init, (*embed.FS).ReadFile,
}
