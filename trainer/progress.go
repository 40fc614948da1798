package trainer

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress is the per-epoch bar (tqdm in the script) that TrainOneEpoch and Evaluate draw; a
// nil *Progress draws nothing. On a terminal it is a progressbar/v3
// bar with the description, images/s and ETA; otherwise (a log file, CI) it prints one line
// when the phase ends, so logs stay readable.
type Progress struct {
	out     io.Writer
	bar     *progressbar.ProgressBar
	desc    string
	images  int
	start   time.Time
	quiet   bool
	total   int
	done    int
	lastLog time.Time
}

// quietEvery is how often a quiet bar prints an intermediate line.
const quietEvery = 30 * time.Second

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// NewProgress starts a bar over total batches.
func NewProgress(out io.Writer, total int, quiet bool) *Progress {
	p := &Progress{out: out, start: time.Now(), quiet: quiet || !isTerminal(out), total: total}
	p.lastLog = p.start
	if !p.quiet {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(out),
			progressbar.OptionSetWidth(25),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(out) }),
		)
	}
	return p
}

// step advances by one batch of n images with the given description.
func (p *Progress) step(n int, desc string) {
	if p == nil {
		return
	}
	p.images += n
	p.done++
	p.desc = desc
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("%s %.1f img/s", desc, p.rate()))
		_ = p.bar.Add(1)
	} else if time.Since(p.lastLog) >= quietEvery && p.done < p.total {
		p.lastLog = time.Now()
		fmt.Fprintf(p.out, "%s  (batch %d/%d, %.1f img/s)\n", desc, p.done, p.total, p.rate())
	}
}

func (p *Progress) rate() float64 {
	s := time.Since(p.start).Seconds()
	if s <= 0 {
		return 0
	}
	return float64(p.images) / s
}

// finish closes the bar, or prints the quiet summary line.
func (p *Progress) finish() {
	if p == nil {
		return
	}
	if p.bar != nil {
		_ = p.bar.Finish()
		return
	}
	fmt.Fprintf(p.out, "%s  (%d images in %.1fs, %.1f img/s)\n", p.desc, p.images, time.Since(p.start).Seconds(), p.rate())
}
