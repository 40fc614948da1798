package serve

import (
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrorBody is the JSON of every error answer.
type ErrorBody struct {
	Error string `json:"error"`           // what went wrong, for people
	Kind  string `json:"kind"`            // for programs: empty, not_an_image, truncated, body_too_large, busy, ...
	Image *int   `json:"image,omitempty"` // the request's image it is about
	Name  string `json:"name,omitempty"`  // that image's (safe) file name
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // HTML-escapes <, >, &: a client's name cannot become markup
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, kind, msg string) {
	s.failErr(w, r, &apiError{status: status, kind: kind, msg: msg, image: -1})
}

func (s *Server) failErr(w http.ResponseWriter, r *http.Request, e *apiError) {
	s.m.errors.WithLabelValues(e.kind).Inc()
	if rec, ok := w.(*recorder); ok {
		rec.kind = e.kind
	}
	body := ErrorBody{Error: e.msg, Kind: e.kind, Name: e.name}
	if e.image >= 0 {
		body.Image = &e.image
	}
	writeJSON(w, e.status, body)
}

// authed requires "Authorization: Bearer <Token>" when a token is set, compared in constant
// time (crypto/subtle) so the answer's timing does not reveal how much of a guess matched.
func (s *Server) authed(h http.Handler) http.Handler {
	if s.cfg.Token == "" {
		return h
	}
	want := []byte("Bearer " + s.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="drgrade"`)
			s.fail(w, r, http.StatusUnauthorized, "unauthorized", "this server needs Authorization: Bearer <token> (drgrade serve --token)")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// recorder keeps what the access log and metrics need of an answer.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	images int
	kind   string
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func setImages(w http.ResponseWriter, n int) {
	if rec, ok := w.(*recorder); ok {
		rec.images = n
	}
}

// handlerLabel is the metrics label of a path: the fixed routes, "page" for the rest (unbounded
// client paths never become label values).
func handlerLabel(p string) string {
	switch p {
	case "/v1/grade", "/v1/info", "/healthz", "/readyz", "/metrics":
		return p
	}
	if strings.HasPrefix(p, "/v1/") {
		return "/v1/other"
	}
	return "page"
}

// logged writes one JSON access-log line per request (no bodies, no file names) and counts
// the request in the metrics.
func (s *Server) logged(h http.Handler) http.Handler {
	var log *slog.Logger
	if s.cfg.AccessLog != nil {
		log = slog.New(slog.NewJSONHandler(s.cfg.AccessLog, nil))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = 499 // the client went away before an answer
		}
		d := time.Since(start)
		label := handlerLabel(r.URL.Path)
		s.m.requests.WithLabelValues(label, strconv.Itoa(rec.status)).Inc()
		s.m.latency.WithLabelValues(label).Observe(d.Seconds())
		if log != nil {
			path := r.URL.Path
			if len(path) > 200 { // the client's; bounded so a line stays a line's size
				path = path[:200] + "…"
			}
			attrs := []any{"method", r.Method, "path", path, "status", rec.status, "bytes", rec.bytes,
				"duration_ms", ms(d), "remote", r.RemoteAddr}
			if rec.images > 0 {
				attrs = append(attrs, "images", rec.images)
			}
			if rec.kind != "" {
				attrs = append(attrs, "error", rec.kind)
			}
			log.Info("request", attrs...)
		}
	})
}
