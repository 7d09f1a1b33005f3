complete -c piw-log -l package -d 'Only entries about this package' -r
complete -c piw-log -l since -d 'Only entries since this time (2026-12-01, "2026-12-01 12:00+01", yesterday) or span back from now ("2 hours", "7 days")' -r
complete -c piw-log -l limit -d 'At most this many entries, the newest' -r
complete -c piw-log -s c -l configuration -d 'Specify a configuration file to load (TOML with the keys dsn, output_path and password_file)' -r -F
complete -c piw-log -s l -l log-file -d 'Log messages to the specified file' -r -F
complete -c piw-log -l dsn -d 'The database to use, as a libpq connection string (sslmode, sslrootcert, ... as in psql; PGHOST, PGUSER, PGSSLMODE, ... and ~/.pgpass fill what it leaves out). With none anywhere and no PGHOST, PGHOSTADDR, PGPORT or PGDATABASE set, a private cluster under PIW_HOME (default ./piw-data) is created and started on first use' -r
complete -c piw-log -l log-format -d 'How log lines are written, on stderr and in the log file: text, or json (one JSON object per line, for log shippers)' -r -f -a "text\t'Lines for people: the level and the message (the log file adds the time)'
json\t'One JSON object per line: timestamp, level, message, target and the event\'s fields'"
complete -c piw-log -l json -d 'Print the entries as one JSON array on stdout'
complete -c piw-log -s q -l quiet -d 'Produce less console output'
complete -c piw-log -s v -l verbose -d 'Produce more console output'
complete -c piw-log -s h -l help -d 'Print help (see more with \'--help\')'
complete -c piw-log -s V -l version -d 'Print version'
