complete -c piw-listener -l output-path -d 'Where the website lives (default: output_path from the configuration file, else PIW_HOME/www)' -r -F
complete -c piw-listener -l workers -d 'Jobs carried out at once' -r
complete -c piw-listener -l retry-delay -d 'Seconds before a failed job is first retried (doubling with each attempt, up to 5 minutes)' -r
complete -c piw-listener -l max-attempts -d 'Attempts before a job is marked failed (CALL piw.retry_failed() queues it again)' -r
complete -c piw-listener -l poll-interval -d 'Seconds between reads of the queue when no notification arrives' -r
complete -c piw-listener -l lease -d 'Seconds a claimed job stays ours without a heartbeat (the jobs of a listener that is alive but stuck return after it; a killed one\'s return at once)' -r
complete -c piw-listener -l shutdown-timeout -d 'Seconds the jobs in hand may take to finish on SIGTERM or SIGINT before they are handed back to the queue unfinished' -r
complete -c piw-listener -l count-downloads-every -d 'Seconds between counts of logged downloads (piw.count_downloads): download counts alone rewrite the home page and search index at most this often; listing changes (a new package, a removal, a skip) rewrite them at once' -r
complete -c piw-listener -s c -l configuration -d 'Specify a configuration file to load (TOML with the keys dsn, output_path and password_file)' -r -F
complete -c piw-listener -s l -l log-file -d 'Log messages to the specified file' -r -F
complete -c piw-listener -l dsn -d 'The database to use, as a libpq connection string (sslmode, sslrootcert, ... as in psql; PGHOST, PGUSER, PGSSLMODE, ... and ~/.pgpass fill what it leaves out). With none anywhere and no PGHOST, PGHOSTADDR, PGPORT or PGDATABASE set, a private cluster under PIW_HOME (default ./piw-data) is created and started on first use' -r
complete -c piw-listener -l log-format -d 'How log lines are written, on stderr and in the log file: text, or json (one JSON object per line, for log shippers)' -r -f -a "text\t'Lines for people: the level and the message (the log file adds the time)'
json\t'One JSON object per line: timestamp, level, message, target and the event\'s fields'"
complete -c piw-listener -s q -l quiet -d 'Produce less console output'
complete -c piw-listener -s v -l verbose -d 'Produce more console output'
complete -c piw-listener -s h -l help -d 'Print help (see more with \'--help\')'
complete -c piw-listener -s V -l version -d 'Print version'
