complete -c piw-initdb -s c -l configuration -d 'Specify a configuration file to load (TOML with the keys dsn, output_path and password_file)' -r -F
complete -c piw-initdb -s l -l log-file -d 'Log messages to the specified file' -r -F
complete -c piw-initdb -l dsn -d 'The database to use, as a libpq connection string (sslmode, sslrootcert, ... as in psql; PGHOST, PGUSER, PGSSLMODE, ... and ~/.pgpass fill what it leaves out). With none anywhere and no PGHOST, PGHOSTADDR, PGPORT or PGDATABASE set, a private cluster under PIW_HOME (default ./piw-data) is created and started on first use' -r
complete -c piw-initdb -l log-format -d 'How log lines are written, on stderr and in the log file: text, or json (one JSON object per line, for log shippers)' -r -f -a "text\t'Lines for people: the level and the message (the log file adds the time)'
json\t'One JSON object per line: timestamp, level, message, target and the event\'s fields'"
complete -c piw-initdb -s q -l quiet -d 'Produce less console output'
complete -c piw-initdb -s v -l verbose -d 'Produce more console output'
complete -c piw-initdb -s h -l help -d 'Print help (see more with \'--help\')'
complete -c piw-initdb -s V -l version -d 'Print version'
