complete -c piw-hold -l reason -d 'Why it is held (shown on the project page)' -r
complete -c piw-hold -l timeout -d 'With --wait: give up after this many seconds (exit 1 naming what is left)' -r
complete -c piw-hold -s c -l configuration -d 'Specify a configuration file to load (TOML with the keys dsn, output_path and password_file)' -r -F
complete -c piw-hold -s l -l log-file -d 'Log messages to the specified file' -r -F
complete -c piw-hold -l dsn -d 'The database to use, as a libpq connection string (sslmode, sslrootcert, ... as in psql; PGHOST, PGUSER, PGSSLMODE, ... and ~/.pgpass fill what it leaves out). With none anywhere and no PGHOST, PGHOSTADDR, PGPORT or PGDATABASE set, a private cluster under PIW_HOME (default ./piw-data) is created and started on first use' -r
complete -c piw-hold -l log-format -d 'How log lines are written, on stderr and in the log file: text, or json (one JSON object per line, for log shippers)' -r -f -a "text\t'Lines for people: the level and the message (the log file adds the time)'
json\t'One JSON object per line: timestamp, level, message, target and the event\'s fields'"
complete -c piw-hold -l release -d 'Release the version instead'
complete -c piw-hold -l dry-run -d 'Print what would change and change nothing'
complete -c piw-hold -l wait -d 'Wait until the listener has carried out the work this request queued (not the rest of the queue); a progress bar on a terminal; exit 1 naming the jobs that failed'
complete -c piw-hold -s q -l quiet -d 'Produce less console output'
complete -c piw-hold -s v -l verbose -d 'Produce more console output'
complete -c piw-hold -s h -l help -d 'Print help (see more with \'--help\')'
complete -c piw-hold -s V -l version -d 'Print version'
