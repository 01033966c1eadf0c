module github.com/gitopsd/gitopsd

go 1.26.0

require (
	github.com/robfig/cron/v3 v3.0.1
	go.yaml.in/yaml/v3 v3.0.4
	golang.org/x/crypto v0.59.0
)

require golang.org/x/sys v0.50.0 // indirect
