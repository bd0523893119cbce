//go:build !unit

package workflow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/kpilake/kpilake/internal/testsvc"
)

// awsAPI calls the moto server directly for the services whose SDK modules the module does not
// require (Step Functions, Glue, SNS, SQS): signed requests in each service's own protocol, so
// that moto routes them as it routes SDK calls.
type awsAPI struct {
	endpoint string
	client   *http.Client
	signer   *v4.Signer
	creds    aws.Credentials
}

func newAWSAPI(endpoint string) *awsAPI {
	return &awsAPI{
		endpoint: endpoint,
		client:   &http.Client{Timeout: 30 * time.Second},
		signer:   v4.NewSigner(),
		creds:    aws.Credentials{AccessKeyID: testsvc.AccessKeyID, SecretAccessKey: testsvc.SecretAccessKey},
	}
}

// Protocols of the services called through awsAPI: JSON target prefix and version.
var jsonServices = map[string]struct{ target, version string }{
	"states": {"AWSStepFunctions", "1.0"},
	"glue":   {"AWSGlue", "1.1"},
	"sqs":    {"AmazonSQS", "1.0"},
}

// call invokes action of a JSON-protocol service (states, glue, sqs) with in and decodes the
// answer into out (unless out is nil).
func (a *awsAPI) call(ctx context.Context, service, action string, in, out any) error {
	proto, ok := jsonServices[service]
	if !ok {
		return fmt.Errorf("awsAPI: no JSON protocol for %s", service)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	header := http.Header{
		"Content-Type": {"application/x-amz-json-" + proto.version},
		"X-Amz-Target": {proto.target + "." + action},
	}
	data, err := a.do(ctx, service, body, header)
	if err != nil {
		return fmt.Errorf("%s %s: %w", service, action, err)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode %s: %w", service, action, data, err)
	}
	return nil
}

// query invokes action of a query-protocol service (sns) and decodes the XML answer into out.
func (a *awsAPI) query(ctx context.Context, service, version, action string, params url.Values, out any) error {
	form := url.Values{"Action": {action}, "Version": {version}}
	for k, v := range params {
		form[k] = v
	}
	header := http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}
	data, err := a.do(ctx, service, []byte(form.Encode()), header)
	if err != nil {
		return fmt.Errorf("%s %s: %w", service, action, err)
	}
	if out == nil {
		return nil
	}
	if err := xml.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode %s: %w", service, action, data, err)
	}
	return nil
}

func (a *awsAPI) do(ctx context.Context, service string, body []byte, header http.Header) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	sum := sha256.Sum256(body)
	if err := a.signer.SignHTTP(ctx, a.creds, req, hex.EncodeToString(sum[:]), service, testsvc.Region, time.Now()); err != nil {
		return nil, err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	return data, nil
}

// Step Functions.

type execution struct {
	Status string `json:"status"`
	Output string `json:"output"`
	Error  string `json:"error"`
	Cause  string `json:"cause"`
}

func (a *awsAPI) createStateMachine(ctx context.Context, name, definition string) (string, error) {
	var out struct {
		StateMachineArn string `json:"stateMachineArn"`
	}
	err := a.call(ctx, "states", "CreateStateMachine", map[string]any{
		"name": name, "definition": definition, "type": "STANDARD",
		"roleArn": "arn:aws:iam::123456789012:role/" + name,
	}, &out)
	return out.StateMachineArn, err
}

func (a *awsAPI) startExecution(ctx context.Context, stateMachineArn, name, input string) (string, error) {
	var out struct {
		ExecutionArn string `json:"executionArn"`
	}
	err := a.call(ctx, "states", "StartExecution", map[string]any{
		"stateMachineArn": stateMachineArn, "name": name, "input": input,
	}, &out)
	return out.ExecutionArn, err
}

func (a *awsAPI) describeExecution(ctx context.Context, arn string) (execution, error) {
	var out execution
	err := a.call(ctx, "states", "DescribeExecution", map[string]any{"executionArn": arn}, &out)
	return out, err
}

// executionHistory returns the events of an execution, oldest first, as Step Functions
// describes them.
func (a *awsAPI) executionHistory(ctx context.Context, arn string) ([]map[string]any, error) {
	var out struct {
		Events []map[string]any `json:"events"`
	}
	err := a.call(ctx, "states", "GetExecutionHistory", map[string]any{"executionArn": arn, "maxResults": 1000}, &out)
	return out.Events, err
}

// Glue.

type crawlerState struct {
	State     string `json:"State"`
	LastCrawl *struct {
		Status string `json:"Status"`
	} `json:"LastCrawl"`
}

func (a *awsAPI) createCrawler(ctx context.Context, name, database, path string) error {
	return a.call(ctx, "glue", "CreateCrawler", map[string]any{
		"Name": name, "Role": "arn:aws:iam::123456789012:role/" + name, "DatabaseName": database,
		"Targets": map[string]any{"S3Targets": []any{map[string]any{"Path": path}}},
	}, nil)
}

func (a *awsAPI) getCrawler(ctx context.Context, name string) (crawlerState, error) {
	var out struct {
		Crawler crawlerState `json:"Crawler"`
	}
	err := a.call(ctx, "glue", "GetCrawler", map[string]any{"Name": name}, &out)
	return out.Crawler, err
}

// listCrawls returns the state of each crawl of a crawler, oldest first. moto counts the call as
// a look at each crawl, which moves a RUNNING crawl on (see world.finishCrawls).
func (a *awsAPI) listCrawls(ctx context.Context, name string) ([]string, error) {
	var out struct {
		Crawls []struct {
			State string `json:"State"`
		} `json:"Crawls"`
	}
	if err := a.call(ctx, "glue", "ListCrawls", map[string]any{"CrawlerName": name}, &out); err != nil {
		return nil, err
	}
	states := make([]string, len(out.Crawls))
	for i, c := range out.Crawls {
		states[i] = c.State
	}
	return states, nil
}

// SNS and SQS.

func (a *awsAPI) createTopic(ctx context.Context, name string) (string, error) {
	var out struct {
		TopicArn string `xml:"CreateTopicResult>TopicArn"`
	}
	err := a.query(ctx, "sns", "2010-03-31", "CreateTopic", url.Values{"Name": {name}}, &out)
	return out.TopicArn, err
}

func (a *awsAPI) subscribeQueue(ctx context.Context, topicArn, queueArn string) error {
	return a.query(ctx, "sns", "2010-03-31", "Subscribe", url.Values{
		"TopicArn": {topicArn}, "Protocol": {"sqs"}, "Endpoint": {queueArn},
	}, nil)
}

// createQueue returns the queue's URL and ARN.
func (a *awsAPI) createQueue(ctx context.Context, name string) (string, string, error) {
	var created struct {
		QueueURL string `json:"QueueUrl"`
	}
	if err := a.call(ctx, "sqs", "CreateQueue", map[string]any{"QueueName": name}, &created); err != nil {
		return "", "", err
	}
	var attrs struct {
		Attributes map[string]string `json:"Attributes"`
	}
	err := a.call(ctx, "sqs", "GetQueueAttributes", map[string]any{
		"QueueUrl": created.QueueURL, "AttributeNames": []string{"QueueArn"},
	}, &attrs)
	return created.QueueURL, attrs.Attributes["QueueArn"], err
}

func (a *awsAPI) receiveMessages(ctx context.Context, queueURL string) ([]string, error) {
	var out struct {
		Messages []struct {
			Body string `json:"Body"`
		} `json:"Messages"`
	}
	err := a.call(ctx, "sqs", "ReceiveMessage", map[string]any{
		"QueueUrl": queueURL, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1,
	}, &out)
	bodies := make([]string, len(out.Messages))
	for i, m := range out.Messages {
		bodies[i] = m.Body
	}
	return bodies, err
}
