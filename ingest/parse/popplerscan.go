package parse

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"io"
	"os/exec"
	"strconv"
	"time"
)

// maxRenderSide bounds a page pdftoppm renders for OCR (-W, -H): 7,000 px
// is 35 inches at 200 dpi, past any manual's page; a larger page is read in
// its top-left part instead of costing gigapixels.
const maxRenderSide = 7000

// popplerRender renders pages (0-based, ascending) for OCR with poppler's
// pdftoppm, natively: 0.08 s a page where PDFium's WebAssembly takes most of
// a second and, started for the first time in a process, ~100 MB. Pages in a
// row share one process, whose PGM stream is read one image at a time, so
// memory stays one page image ahead whatever the run's length. each gets
// every image in order; on an error, done says how many pages it got, and
// the caller renders the rest another way.
func (p *Parser) popplerRender(ctx context.Context, data []byte, pages []int, dpi int, each func(k int, img *image.Gray) error) (done int, err error) {
	f, err := memFile(data)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	for done < len(pages) {
		first, last := pages[done], pages[done]
		for done+last-first+1 < len(pages) && pages[done+last-first+1] == last+1 {
			last++
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return done, err
		}
		cmd := exec.CommandContext(ctx, popplerTool(p.opts.PDFToText, "pdftoppm"), "-gray", "-r", strconv.Itoa(dpi),
			"-W", strconv.Itoa(maxRenderSide), "-H", strconv.Itoa(maxRenderSide),
			"-f", strconv.Itoa(first+1), "-l", strconv.Itoa(last+1), "/dev/stdin")
		cmd.Stdin = f
		var stderr capped
		stderr.max = 4 << 10
		cmd.Stderr = &stderr
		cmd.WaitDelay = time.Second
		out, err := cmd.StdoutPipe()
		if err != nil {
			return done, err
		}
		if err := cmd.Start(); err != nil {
			return done, fmt.Errorf("pdftoppm: %w", err)
		}
		lower(cmd.Process.Pid) // background work, as every poppler run (childNice)
		r := bufio.NewReaderSize(out, 1<<20)
		for ; done < len(pages) && pages[done] <= last; done++ {
			img, err := readPGM(r)
			if err == nil {
				err = each(done, img)
			}
			if err != nil {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				return done, fmt.Errorf("pdftoppm page %d: %w", pages[done]+1, err)
			}
		}
		if err := cmd.Wait(); err != nil {
			return done, fmt.Errorf("pdftoppm: %w: %s", err, stderr.b.String())
		}
	}
	return done, nil
}

// readPGM reads one binary 8-bit PGM (P5) image from r, refusing one larger
// than maxImagePixels before reading its pixels.
func readPGM(r *bufio.Reader) (*image.Gray, error) {
	var magic string
	var w, h, maxv int
	if _, err := fmt.Fscan(r, &magic, &w, &h, &maxv); err != nil {
		return nil, fmt.Errorf("pgm header: %w", err)
	}
	if magic != "P5" || maxv != 255 || w <= 0 || h <= 0 || w*h > maxImagePixels {
		return nil, fmt.Errorf("pgm header %s %d×%d max %d: want an 8-bit grayscale image of at most %d pixels", magic, w, h, maxv, maxImagePixels)
	}
	if _, err := r.ReadByte(); err != nil { // the one space before the pixels
		return nil, err
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	if _, err := io.ReadFull(r, img.Pix); err != nil {
		return nil, fmt.Errorf("pgm pixels: %w", err)
	}
	return img, nil
}
