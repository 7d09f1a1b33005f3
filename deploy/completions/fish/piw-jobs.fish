# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_piw_jobs_global_optspecs
    string join \n dry-run wait timeout= c/configuration= q/quiet v/verbose l/log-file= dsn= log-format= h/help V/version
end

function __fish_piw_jobs_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_piw_jobs_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_piw_jobs_using_subcommand
    set -l cmd (__fish_piw_jobs_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c piw-jobs -n "__fish_piw_jobs_needs_command" -l timeout -d 'With --wait: give up after this many seconds (exit 1 naming what is left)' -r
complete -c piw-jobs -n "__fish_piw_jobs_needs_command" -s c -l configuration -d 'Specify a configuration file to load (TOML with the keys dsn, output_path and password_file)' -r -F
complete -c piw-jobs -n "__fish_piw_jobs_needs_command" -s l -l log-file -d 'Log messages to the specified file' -r -F
complete -c piw-jobs -n "__fish_piw_jobs_needs_command" -l dsn -d 'The database to use, as a libpq connection string (sslmode, sslrootcert, ... as in psql; PGHOST, PGUSER, PGSSLMODE, ... and ~/.pgpass fill what it leaves out). With none anywhere and no PGHOST, PGHOSTADDR, PGPORT or PGDATABASE set, a private cluster under PIW_HOME (default ./piw-data) is created and started on first use' -r
complete -c piw-jobs -n "__fish_piw_jobs_needs_command" -l log-format -d 'How log lines are written, on stderr and in the log file: text, or json (one JSON object per line, for log shippers)' -r -f -a "text\t'Lines for people: the level and the message (the log file adds the time)'
json\t'One JSON object per line: timestamp, level, message, target and the event\'s fields'"
complete -c piw-jobs -n "__fish_piw_jobs_needs_command" -l dry-run -d 'Print what would change and change nothing'
complete -c piw-jobs -n "__fish_piw_jobs_needs_command" -l wait -d 'Wait until the listener has carried out the work this request queued (not the rest of the queue); a progress bar on a terminal; exit 1 naming the jobs that failed'
complete -c piw-jobs -n "__fish_piw_jobs_needs_command" -s q -l quiet -d 'Produce less console output'
complete -c piw-jobs -n "__fish_piw_jobs_needs_command" -s v -l verbose -d 'Produce more console output'
complete -c piw-jobs -n "__fish_piw_jobs_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c piw-jobs -n "__fish_piw_jobs_needs_command" -s V -l version -d 'Print version'
complete -c piw-jobs -n "__fish_piw_jobs_needs_command" -f -a "retry" -d 'Put failed jobs back in the queue: the jobs named, or every failed job of a package, or (neither given) every failed job'
complete -c piw-jobs -n "__fish_piw_jobs_needs_command" -f -a "cancel" -d 'Cancel a package\'s pending and failed jobs and its requests not yet taken by a listener (running jobs finish); piw-rebuild index PACKAGE puts its pages right later'
complete -c piw-jobs -n "__fish_piw_jobs_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c piw-jobs -n "__fish_piw_jobs_using_subcommand retry" -l package -d 'Every failed job of this package' -r
complete -c piw-jobs -n "__fish_piw_jobs_using_subcommand retry" -l dry-run -d 'Print what would change and change nothing'
complete -c piw-jobs -n "__fish_piw_jobs_using_subcommand retry" -s h -l help -d 'Print help'
complete -c piw-jobs -n "__fish_piw_jobs_using_subcommand cancel" -l dry-run -d 'Print what would change and change nothing'
complete -c piw-jobs -n "__fish_piw_jobs_using_subcommand cancel" -s h -l help -d 'Print help'
complete -c piw-jobs -n "__fish_piw_jobs_using_subcommand help; and not __fish_seen_subcommand_from retry cancel help" -f -a "retry" -d 'Put failed jobs back in the queue: the jobs named, or every failed job of a package, or (neither given) every failed job'
complete -c piw-jobs -n "__fish_piw_jobs_using_subcommand help; and not __fish_seen_subcommand_from retry cancel help" -f -a "cancel" -d 'Cancel a package\'s pending and failed jobs and its requests not yet taken by a listener (running jobs finish); piw-rebuild index PACKAGE puts its pages right later'
complete -c piw-jobs -n "__fish_piw_jobs_using_subcommand help; and not __fish_seen_subcommand_from retry cancel help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
