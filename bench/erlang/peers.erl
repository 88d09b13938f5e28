%% bench/erlang/peers.erl -- Erlang processes doing the work of bench/lua.lua's
%% rows, so that troupe's Lua actors are measured beside Erlang on the same
%% machine, in the same run. scripts/bench compiles it into build/erlang/ and
%% runs it pinned like troupe (taskset -c 0), on one scheduler:
%%
%%   erl +S 1:1 +P 4194304 -noshell -pa build/erlang -run peers main [scale [name...]]
%%     scale  multiplies every count (default 1), as bench/lua.lua's does
%%     name   run only these: idle, oneway, call, spawn (default: all)
%%   TROUPE_BENCH_RUNS  runs per row (default 5)
%%
%% Prints markdown table rows, | benchmark | result | unit | target |, like
%% bench/lib/common.lua: "median (min-max)" of the runs, timed by the wall
%% clock (erlang:monotonic_time), rates as "8.01 M" or "712.3 k". The targets
%% are troupe's, so these rows have none ("-"). Counts are bench/lua.lua's.
%%
%%   one-way      a producer sends N {n, I} to a consumer that matches each
%%                and checks I; timed from the first send to the consumer's
%%                last receive. Not quite troupe's work: Erlang's mailboxes
%%                are unbounded, so the producer never waits, while troupe's
%%                one-way row runs against a 1024-message bound, its sender
%%                waiting for room (backpressure) whenever the mailbox is full.
%%   call         a caller sends N {call, self(), Ref, K} in a row to a server
%%                that answers {Ref, K * K}; the caller waits for each reply
%%                and checks it. Twice: as actor.call does it (troupe's call
%%                arms the 5 s default timeout and is told at once if the
%%                callee ends: here a monitor on the server, its ref the
%%                call's, and `after 5000`, as gen_server:call does), and bare
%%                (no monitor, no timeout), the cheapest round trip in Erlang.
%%   spawn        N processes started that wait in receive; timed until the
%%                last one has run (it says so: one scheduler runs them in
%%                spawn order, so all have reached their receive). Cold: each
%%                run in a fresh VM (this module run again with spawn-once);
%%                warm: the same VM right after, once the first N have ended.
%%   idle         per process waiting in receive, 100k of them, measured
%%                first in a fresh VM: process_info(memory) of one (its heap,
%%                stack, mailbox and control block), the growth of
%%                erlang:memory(processes), and of the VM's RSS.
-module(peers).
-export([main/1]).

main(Args) ->
    {Scale, Names} = case Args of
                         [] -> {"1", []};
                         [S | Ns] -> {S, Ns}
                     end,
    Runs = runs_setting(),
    X = number(Scale),
    if not is_number(X) orelse X =< 0 ->
           fail("usage: erl -run peers main [scale > 0] [idle|oneway|call|spawn ...]");
       true -> ok
    end,
    Wanted = fun(Name) -> Names =:= [] orelse lists:member(Name, Names) end,
    Count = fun(N) -> max(1, floor(N * X)) end,
    case lists:member("spawn-once", Names) of
        true ->
            N = Count(5.0e5),
            Cold = run_spawn(N),
            Warm = run_spawn(N),
            io:format("spawn ~.9f ~.9f~n", [Cold, Warm]);
        false ->
            Wanted("idle") andalso bench_idle(Count(1.0e5)),
            Wanted("oneway") andalso
                rate_row("Erlang one-way (process->process)", Count(3.0e6),
                         runs(Runs, fun() -> run_oneway(Count(3.0e6)) end), "msgs/s"),
            Wanted("call") andalso
                rate_row("Erlang call round trip (process->process, monitor + 5 s timeout "
                         "as actor.call)", Count(1.5e6),
                         runs(Runs, fun() -> run_call(Count(1.5e6), fun call_full/3) end),
                         "calls/s"),
            Wanted("call") andalso
                rate_row("Erlang call round trip (process->process, bare: no monitor, "
                         "no timeout)", Count(1.5e6),
                         runs(Runs, fun() -> run_call(Count(1.5e6), fun call_bare/3) end),
                         "calls/s"),
            Wanted("spawn") andalso bench_spawn(Count(5.0e5), Runs, Scale)
    end,
    halt(0).

%% ------------------------------------------------------------ settings, rows

runs_setting() ->
    case number(os:getenv("TROUPE_BENCH_RUNS", "5")) of
        R when is_integer(R), R >= 1 -> R;
        _ -> fail("TROUPE_BENCH_RUNS must be a whole number > 0")
    end.

number(Text) ->
    case string:to_integer(Text) of
        {I, ""} -> I;
        _ -> case {string:to_float(Text), string:split(Text, "e")} of
                 {{F, ""}, _} -> F;
                 {_, [M, E]} when E =/= "" -> % 1e-2, which to_float refuses
                     case lists:member($., M) of
                         false -> number(M ++ ".0e" ++ E);
                         true -> bad
                     end;
                 _ -> bad
             end
    end.

fail(What) ->
    io:format(standard_error, "bench/erlang/peers.erl: ~s~n", [What]),
    halt(1).

row(Name, Result, Unit) ->
    io:format("| ~s | ~s | ~s | - |~n", [Name, Result, Unit]).

rate_text(R) when R >= 1.0e6 -> io_lib:format("~.2f M", [R / 1.0e6]);
rate_text(R) when R >= 1.0e3 -> io_lib:format("~.1f k", [R / 1.0e3]);
rate_text(R) -> integer_to_list(round(R)).

%% Values of several runs as "median (min-max)", each through Fmt.
runs_text(Values, Fmt) ->
    S = lists:sort(Values),
    Median = lists:nth((length(S) + 1) div 2, S),
    io_lib:format("~s (~s-~s)", [Fmt(Median), Fmt(hd(S)), Fmt(lists:last(S))]).

%% The rates of N things done in each of Secs (seconds, one per run).
rate_row(Name, N, Secs, Unit) ->
    Rates = [case T > 0 of true -> N / T; false -> 0.0 end || T <- Secs],
    row(Name, runs_text(Rates, fun rate_text/1), Unit).

%% The seconds of Runs runs of F, each in a fresh process whose result it
%% sends back, after a collection of this one.
runs(Runs, F) ->
    [begin
         garbage_collect(),
         Self = self(),
         {Pid, Ref} = spawn_monitor(fun() -> Self ! {self(), F()} end),
         receive
             {Pid, Secs} -> erlang:demonitor(Ref, [flush]), Secs;
             {'DOWN', Ref, process, Pid, Why} -> fail(io_lib:format("run: ~p", [Why]))
         end
     end || _ <- lists:seq(1, Runs)].

now_ns() -> erlang:monotonic_time(nanosecond).
since(T0) -> (now_ns() - T0) / 1.0e9.

%% ------------------------------------------------------------ one-way

consumer(Root, I, N) when I =:= N -> Root ! {done, now_ns()};
consumer(Root, I, N) ->
    receive
        {n, I} -> consumer(Root, I + 1, N);
        Other -> Root ! {bad, Other}
    end.

run_oneway(N) ->
    Self = self(),
    Cons = spawn(fun() -> consumer(Self, 0, N) end),
    T0 = now_ns(),
    produce(Cons, 0, N),
    receive
        {done, T1} -> (T1 - T0) / 1.0e9;
        {bad, M} -> fail(io_lib:format("one-way: ~p", [M]))
    end.

produce(_, N, N) -> ok;
produce(Cons, I, N) -> Cons ! {n, I}, produce(Cons, I + 1, N).

%% ------------------------------------------------------------ calls

server() ->
    receive
        {call, From, Ref, K} -> From ! {Ref, K * K}, server();
        stop -> ok
    end.

run_call(N, Call) ->
    Srv = spawn(fun server/0),
    T0 = now_ns(),
    calls(Srv, 0, N, Call),
    Secs = since(T0),
    Srv ! stop,
    Secs.

calls(_, N, N, _) -> ok;
calls(Srv, I, N, Call) ->
    K = I band 16#ffff,
    case Call(Srv, K, 5000) of
        R when R =:= K * K -> calls(Srv, I + 1, N, Call);
        R -> fail(io_lib:format("call: wrong reply ~p", [R]))
    end.

%% What actor.call does: told at once if the server ends, or at the timeout.
call_full(Srv, K, Timeout) ->
    Ref = monitor(process, Srv),
    Srv ! {call, self(), Ref, K},
    receive
        {Ref, R} -> demonitor(Ref, [flush]), R;
        {'DOWN', Ref, process, _, Why} -> fail(io_lib:format("call: server ended: ~p", [Why]))
    after Timeout -> fail("call: no reply in time")
    end.

call_bare(Srv, K, _) ->
    Ref = make_ref(),
    Srv ! {call, self(), Ref, K},
    receive {Ref, R} -> R end.

%% ------------------------------------------------------------ spawning

idle() -> receive _ -> ok end.
last_idle(Root) -> Root ! started, idle().

%% Spawns N idle processes; returns them once all have started.
spawn_idle(N) ->
    Limit = erlang:system_info(process_limit),
    N + 1000 > Limit andalso
        fail(io_lib:format("~b processes need a larger erl +P than ~b", [N, Limit])),
    Self = self(),
    Pids = [spawn(fun idle/0) || _ <- lists:seq(1, N - 1)],
    Last = spawn(fun() -> last_idle(Self) end),
    receive started -> [Last | Pids] end.

%% Ends them all, and waits until they have.
stop_all(Pids) ->
    Refs = [monitor(process, P) || P <- Pids],
    [P ! stop || P <- Pids],
    [receive {'DOWN', R, process, _, _} -> ok end || R <- Refs],
    ok.

run_spawn(N) ->
    T0 = now_ns(),
    Pids = spawn_idle(N),
    Secs = since(T0),
    stop_all(Pids),
    Secs.

%% The cold and the warm spawn time of RUNS fresh VMs, each running this
%% module with spawn-once, with the flags this VM was started with.
bench_spawn(N, Runs, Scale) ->
    Erl = filename:join([code:root_dir(), "bin", "erl"]),
    Dir = filename:dirname(code:which(?MODULE)),
    Cmd = lists:flatten(io_lib:format(
            "'~s' +S 1:1 +P ~b -noshell -pa '~s' -run peers main '~s' spawn-once",
            [Erl, erlang:system_info(process_limit), Dir, Scale])),
    Pairs = [begin
                 Out = os:cmd(Cmd),
                 case io_lib:fread("spawn ~f ~f", Out) of
                     {ok, [C, W], _} -> {C, W};
                     _ -> fail("spawn: the fresh VM said " ++ Out)
                 end
             end || _ <- lists:seq(1, Runs)],
    rate_row("Erlang spawn (idle process, started; cold heap: a fresh VM per run)", N,
             [C || {C, _} <- Pairs], "spawns/s"),
    rate_row("Erlang spawn (idle process, started; warm heap: right after as many ended)",
             N, [W || {_, W} <- Pairs], "spawns/s").

%% ------------------------------------------------------------ idle size

rss_bytes() ->
    case file:read_file("/proc/self/statm") of
        {ok, Text} ->
            [_, Resident | _] = string:lexemes(binary_to_list(Text), " \n"),
            list_to_integer(Resident) * 4096;
        _ -> 0
    end.

bench_idle(N) ->
    erlang:garbage_collect(),
    Procs0 = erlang:memory(processes),
    Rss0 = rss_bytes(),
    Pids = spawn_idle(N),
    erlang:garbage_collect(),
    Procs1 = erlang:memory(processes),
    Rss1 = rss_bytes(),
    {memory, One} = process_info(lists:last(Pids), memory),
    row("Erlang idle process (process_info memory: heap, stack, PCB)",
        integer_to_list(One), "bytes"),
    row("Erlang idle process (erlang:memory(processes) growth)",
        integer_to_list(round((Procs1 - Procs0) / N)), "bytes"),
    row("Erlang idle process (whole VM RSS growth)",
        integer_to_list(round((Rss1 - Rss0) / N)), "bytes"),
    stop_all(Pids).
