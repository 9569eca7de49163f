package parse

import (
	"errors"
	"fmt"
	"os/exec"
)

// childNice is the niceness of pdftotext (tesseract is not niced: its pages
// have deadlines a starved process would miss): it is background work, and the scheduler gives a nice-10
// process about a tenth of a core's time against one at 0, so the answers
// served meanwhile keep their CPU; with the cores idle they run at full
// speed. In-process stages give way by pacing instead (ingest.Priority).
const childNice = 10

// runLow runs cmd like cmd.Run, at childNice.
func runLow(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	lower(cmd.Process.Pid)
	return cmd.Wait()
}

// maxToolOutput bounds what one poppler run may print: a small PDF whose
// content streams are compression bombs could otherwise print without end
// into memory. The 1,335-page manual's whole text is 2.7 MB.
const maxToolOutput = 64 << 20

// outputLow is cmd.Output at childNice (stderr, as Output keeps it, goes
// into the *exec.ExitError), its output capped at maxToolOutput.
func outputLow(cmd *exec.Cmd) ([]byte, error) {
	var out, errb capped
	out.max, errb.max = maxToolOutput, 4<<10
	cmd.Stdout = &out
	if cmd.Stderr == nil {
		cmd.Stderr = &errb
	}
	err := runLow(cmd)
	var ee *exec.ExitError
	if errors.As(err, &ee) && errb.b.Len() > 0 {
		ee.Stderr = errb.b.Bytes()
	}
	if err == nil && out.over {
		err = fmt.Errorf("printed more than %d MiB", maxToolOutput>>20)
	}
	return out.b.Bytes(), err
}
