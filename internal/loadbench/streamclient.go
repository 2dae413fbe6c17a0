package loadbench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

var (
	sseData      = []byte("data:")
	sseDone      = []byte("[DONE]")
	contentKey   = []byte(`"content":"`)
	emptyContent = []byte(`"content":""`)
	errorEvent   = []byte(`{"error"`)
)

// streamResult is one streaming request as the client saw it.
type streamResult struct {
	start time.Time
	// ttft is the time to the first event with content (relais holds the
	// role-only first event until content comes, so this is what a user
	// waits for on every path); ttlt the time to [DONE].
	ttft, ttlt time.Duration
	err        error
}

// streamer sends streaming requests to one path and reads them as an OpenAI
// client does.
type streamer struct {
	client *http.Client
	url    string
	header http.Header
	chunks int // content chunks every stream must carry
}

// do sends one streaming request and reads it to [DONE]. firstToken, if not
// nil, runs when the first content arrives.
func (s *streamer) do(ctx context.Context, firstToken func()) streamResult {
	res := streamResult{start: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, strings.NewReader(streamRequest))
	if err != nil {
		res.err = err
		return res
	}
	req.Header = s.header.Clone()
	resp, err := s.client.Do(req)
	if err != nil {
		res.err = err
		return res
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		res.err = fmt.Errorf("HTTP %d", resp.StatusCode)
		return res
	}
	res.err = s.read(resp.Body, &res, firstToken)
	return res
}

func (s *streamer) read(body io.Reader, res *streamResult, firstToken func()) error {
	br := bufio.NewReaderSize(body, 4<<10)
	contents := 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("stream ended before [DONE]")
			}
			return fmt.Errorf("after %d of %d content chunks: %w", contents, s.chunks, err)
		}
		data, ok := bytes.CutPrefix(line, sseData)
		if !ok {
			continue
		}
		data = bytes.TrimSpace(data)
		switch {
		case bytes.Equal(data, sseDone):
			res.ttlt = time.Since(res.start)
			if contents != s.chunks {
				return fmt.Errorf("stream carried %d content chunks, want %d", contents, s.chunks)
			}
			// Read to the end, as SDKs do: closing a body before its last
			// chunk closes the connection, and the gateway then cancels the
			// request it may still be finishing.
			_, err := io.Copy(io.Discard, br)
			return err
		case bytes.HasPrefix(data, errorEvent):
			return fmt.Errorf("error event: %s", data)
		case bytes.Contains(data, contentKey) && !bytes.Contains(data, emptyContent):
			contents++
			if contents == 1 {
				res.ttft = time.Since(res.start)
				if firstToken != nil {
					firstToken()
				}
			}
		}
	}
}
