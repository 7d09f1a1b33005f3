complete -c piw-status -l recent -d 'How many of the latest audit entries to show' -r
complete -c piw-status -s c -l configuration -d 'Specify a configuration file to load (TOML with the keys dsn, output_path and password_file)' -r -F
complete -c piw-status -s l -l log-file -d 'Log messages to the specified file' -r -F
complete -c piw-status -l dsn -d 'The database to use, as a libpq connection string (sslmode, sslrootcert, ... as in psql; PGHOST, PGUSER, PGSSLMODE, ... and ~/.pgpass fill what it leaves out). With none anywhere and no PGHOST, PGHOSTADDR, PGPORT or PGDATABASE set, a private cluster under PIW_HOME (default ./piw-data) is created and started on first use' -r
complete -c piw-status -l log-format -d 'How log lines are written, on stderr and in the log file: text, or json (one JSON object per line, for log shippers)' -r -f -a "text\t'Lines for people: the level and the message (the log file adds the time)'
json\t'One JSON object per line: timestamp, level, message, target and the event\'s fields'"
complete -c piw-status -l json -d 'Print the status as one JSON document on stdout'
complete -c piw-status -s q -l quiet -d 'Produce less console output'
complete -c piw-status -s v -l verbose -d 'Produce more console output'
complete -c piw-status -s h -l help -d 'Print help (see more with \'--help\')'
complete -c piw-status -s V -l version -d 'Print version'
