package extract

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretsAPI is the one Secrets Manager call the extractor makes.
type SecretsAPI interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ SecretsAPI = (*secretsmanager.Client)(nil)

// dbCredentials are a database login in the RDS secret JSON shape. They never reach a log: every
// formatting of the value hides the password.
type dbCredentials struct {
	Username string
	Password string
	Host     string
	Port     int
	DBName   string
	Engine   string
}

func (c dbCredentials) String() string {
	return fmt.Sprintf("%s@%s:%d/%s", c.Username, c.Host, c.Port, c.DBName)
}

func (c dbCredentials) GoString() string { return c.String() }

func (c dbCredentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// rdsSecret is the JSON that RDS writes for a managed secret. port is a number there, but a
// string in hand-made secrets.
type rdsSecret struct {
	Username string          `json:"username"`
	Password string          `json:"password"`
	Host     string          `json:"host"`
	Port     json.RawMessage `json:"port"`
	DBName   string          `json:"dbname"`
	Engine   string          `json:"engine"`
}

// fetchCredentials reads and checks the secret. Its messages name the secret and the missing
// keys, never the values.
func fetchCredentials(ctx context.Context, api SecretsAPI, secretID string, engine Engine) (dbCredentials, error) {
	out, err := api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &secretID})
	if err != nil {
		return dbCredentials{}, fmt.Errorf("read secret %s: %w", secretID, err)
	}
	if out.SecretString == nil {
		return dbCredentials{}, fmt.Errorf("secret %s has no SecretString; store the RDS JSON {\"username\",\"password\",\"host\",\"port\",\"dbname\"}", secretID)
	}
	var s rdsSecret
	if err := json.Unmarshal([]byte(*out.SecretString), &s); err != nil {
		// The JSON error could quote the secret; say only where it failed.
		return dbCredentials{}, fmt.Errorf("secret %s is not JSON in the RDS shape {\"username\",\"password\",\"host\",\"port\",\"dbname\"}", secretID)
	}
	c := dbCredentials{Username: s.Username, Password: s.Password, Host: s.Host, DBName: s.DBName, Engine: s.Engine}
	var missing []string
	for _, f := range []struct{ key, val string }{{"username", s.Username}, {"password", s.Password}, {"host", s.Host}} {
		if f.val == "" {
			missing = append(missing, f.key)
		}
	}
	port := strings.Trim(string(s.Port), `"`)
	switch {
	case port == "" || port == "null":
		if engine == PostgreSQL {
			c.Port = 5432
		} else {
			c.Port = 3306
		}
	default:
		p, err := strconv.Atoi(port)
		if err != nil || p <= 0 || p > 65535 {
			missing = append(missing, "port (a number from 1 to 65535)")
		}
		c.Port = p
	}
	if len(missing) > 0 {
		return dbCredentials{}, fmt.Errorf("secret %s lacks %s", secretID, strings.Join(missing, ", "))
	}
	if !engineMatches(engine, s.Engine) {
		return dbCredentials{}, fmt.Errorf("secret %s is for engine %q but the source's Engine is %q; point the source at the right secret", secretID, s.Engine, engine)
	}
	return c, nil
}

// engineMatches compares the source's engine with the secret's RDS engine name, if it has one.
func engineMatches(e Engine, rds string) bool {
	switch strings.ToLower(rds) {
	case "":
		return true
	case "mysql", "aurora-mysql", "aurora", "mariadb":
		return e == MySQL
	case "postgres", "postgresql", "aurora-postgresql":
		return e == PostgreSQL
	}
	return false
}

// FetchSalt reads the hashing salt: the SecretString of secretID, at least MinSaltLength bytes.
// The Lambda main calls it once per instance and passes the result as Config.Salt.
func FetchSalt(ctx context.Context, api SecretsAPI, secretID string) ([]byte, error) {
	out, err := api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &secretID})
	if err != nil {
		return nil, fmt.Errorf("read salt secret %s: %w", secretID, err)
	}
	if out.SecretString == nil || len(*out.SecretString) < MinSaltLength {
		return nil, fmt.Errorf("salt secret %s must hold a SecretString of at least %d random bytes", secretID, MinSaltLength)
	}
	return []byte(*out.SecretString), nil
}

var errNoDatabase = errors.New("no database to read: set the source's Database or the secret's dbname")
