package parse

import (
	"bytes"
	"errors"
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

// outputLow is cmd.Output at childNice (stderr, as Output keeps it, goes
// into the *exec.ExitError).
func outputLow(cmd *exec.Cmd) ([]byte, error) {
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	if cmd.Stderr == nil {
		cmd.Stderr = &errb
	}
	err := runLow(cmd)
	var ee *exec.ExitError
	if errors.As(err, &ee) && errb.Len() > 0 {
		ee.Stderr = errb.Bytes()
	}
	return out.Bytes(), err
}
