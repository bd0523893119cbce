package ctas

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/smithy-go"

	"github.com/kpilake/kpilake/layout"
)

// deniedGlue refuses GetPartition as IAM would.
type deniedGlue struct{ glueAPI }

func (deniedGlue) GetPartition(context.Context, *glue.GetPartitionInput, ...func(*glue.Options)) (*glue.GetPartitionOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform glue:GetPartition"}
}

func TestRunner_HasPartition(t *testing.T) {
	t.Parallel()
	l := newLake(t)
	mustRun(t, l.runner(t, nil, nil, nil), context.Background()) // publishes dt=testDay
	r := l.runner(t, nil, nil, nil)
	table := layout.KPITableName(testKPI)
	for _, c := range []struct {
		name  string
		table string
		day   layout.Day
		want  bool
	}{
		{name: "published day", table: table, day: testDay, want: true},
		{name: "the next day", table: table, day: testDay.AddDays(1)},
		{name: "a table the crawler has not created yet", table: "social_departments", day: testDay},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := r.HasPartition(context.Background(), c.table, c.day)
			if err != nil || got != c.want {
				t.Errorf("HasPartition(%s, %s) = %t, %v; want %t", c.table, c.day, got, err, c.want)
			}
		})
	}
	t.Run("denied", func(t *testing.T) {
		_, err := l.runner(t, nil, deniedGlue{l.glue}, nil).HasPartition(context.Background(), table, testDay)
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "AccessDeniedException" || !strings.Contains(err.Error(), table) {
			t.Errorf("err = %v; want the AccessDeniedException, naming the table", err)
		}
	})
}
