package testutil

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium is the browser the tests drive: DRGRADE_CHROMIUM, or Debian's package, which
// `make test` installs (scripts/chromium.sh).
func Chromium(t *testing.T) string {
	t.Helper()
	p := os.Getenv("DRGRADE_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no Chromium at %s (install Debian's chromium: scripts/chromium.sh, which make test runs, or set DRGRADE_CHROMIUM): %v", p, err)
	}
	return p
}

// Page is what OpenPage reads off a loaded page.
type Page struct {
	Title          string
	Images, Loaded int    // <img> elements, and those that decoded (complete, natural width > 0)
	Screenshot     []byte // full page, PNG
}

// OpenPage loads url in a fresh headless Chromium (with the flags this closed network needs)
// and reads the title, how many pictures there are and how many decoded, and a full-page
// screenshot.
func OpenPage(t *testing.T, url string) Page {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	fail := func(what string, err error) {
		if err != nil {
			t.Fatalf("chromium on %s: %s: %v", url, what, err)
		}
	}
	fail("navigate", chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady("body")))
	tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var st Page
	var err error
	st.Title, err = chromedp.Run(tctx, chromedp.Title())
	fail("title", err)
	st.Images, err = chromedp.Run(tctx, chromedp.Evaluate[int](`document.images.length`))
	fail("images", err)
	st.Loaded, err = chromedp.Run(tctx, chromedp.Evaluate[int](`Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length`))
	fail("decoded images", err)
	st.Screenshot, err = chromedp.Run(tctx, chromedp.FullScreenshot(100))
	fail("screenshot", err)
	return st
}
