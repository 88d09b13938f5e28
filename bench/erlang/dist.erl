%% bench/erlang/dist.erl -- two distributed Erlang nodes (erl -sname) doing
%% the work of the cross-node rows of troupe's cluster over NATS
%% (bench/cluster/client.lua), on the same machine, in the same run
%% (scripts/bench.d/cluster.sh starts both):
%%
%%   erl -sname S -noshell -pa build/erlang -run dist server
%%   erl -sname C -noshell -pa build/erlang -run dist client S@HOST SCALE RUNS
%%
%% The server registers a sink, which counts {n, I} messages and answers a
%% sync call once it has handled all before it, and an echo server
%% answering {call, From, Ref, K} with {Ref, K * K}. The client prints a
%% line per run and measurement, as bench/cluster/client.lua does:
%%   oneway SECONDS N   N sends to the sink, in windows of 1000 each closed
%%                      by a sync call (the same work per message as troupe)
%%   call SECONDS N     N calls in a row, each with a monitor on the server
%%                      and a 5 s timeout, as gen_server:call (and troupe's
%%                      actor.call) do
%%   call64 SECONDS N   the same calls from 64 processes at once
%% then stops the server node.
-module(dist).
-export([server/0, client/1]).

server() ->
    register(sink, spawn(fun() -> sink(0) end)),
    register(echo, spawn(fun echo/0)),
    io:format("ready~n"),
    receive stop -> ok end.

sink(Got) ->
    receive
        {n, I} -> sink(Got + I);
        {call, From, Ref, sync} -> From ! {Ref, Got}, sink(Got)
    end.

echo() ->
    receive
        {call, From, Ref, K} -> From ! {Ref, K * K}, echo();
        stop -> erlang:halt(0)
    end.

call(To, Msg) ->
    Ref = erlang:monitor(process, To),
    To ! {call, self(), Ref, Msg},
    receive
        {Ref, Reply} -> erlang:demonitor(Ref, [flush]), Reply;
        {'DOWN', Ref, _, _, Why} -> exit({down, Why})
    after 5000 -> exit(timeout)
    end.

client([Node, Scale, Runs]) ->
    S = list_to_atom(Node),
    X = number(Scale),
    R = list_to_integer(Runs),
    Count = fun(N) -> max(64, floor(N * X)) end,
    wait_for(S, 3000),
    Sink = {sink, S},
    Echo = {echo, S},
    oneway(Sink, Count(20000)),
    calls(Echo, Count(2000)),
    lists:foreach(
      fun(_) ->
              N1 = Count(1000000),
              io:format("oneway ~.6f ~b~n", [oneway(Sink, N1), N1]),
              N2 = Count(20000),
              io:format("call ~.6f ~b~n", [calls(Echo, N2), N2]),
              {T, Done} = calls64(Echo, Count(200000)),
              io:format("call64 ~.6f ~b~n", [T, Done])
      end, lists:seq(1, R)),
    Echo ! stop,
    halt(0).

number(S) ->
    case string:to_float(S) of
        {F, ""} -> F;
        _ -> list_to_integer(S)
    end.

wait_for(_, 0) -> io:format(standard_error, "no server node~n", []), halt(1);
wait_for(S, Tries) ->
    case net_adm:ping(S) of
        pong ->
            case rpc:call(S, erlang, whereis, [echo]) of
                P when is_pid(P) -> ok;
                _ -> timer:sleep(10), wait_for(S, Tries - 1)
            end;
        pang -> timer:sleep(10), wait_for(S, Tries - 1)
    end.

seconds(T0) ->
    (erlang:monotonic_time() - T0) / erlang:convert_time_unit(1, second, native).

oneway(Sink, N) ->
    T0 = erlang:monotonic_time(),
    window(Sink, N),
    seconds(T0).

window(_, 0) -> ok;
window(Sink, N) ->
    W = min(1000, N),
    send_n(Sink, W),
    _ = call(Sink, sync),
    window(Sink, N - W).

send_n(_, 0) -> ok;
send_n(Sink, K) -> Sink ! {n, 1}, send_n(Sink, K - 1).

calls(Echo, N) ->
    T0 = erlang:monotonic_time(),
    call_n(Echo, 1, N),
    seconds(T0).

call_n(_, K, N) when K > N -> ok;
call_n(Echo, K, N) ->
    Sq = K * K,
    Sq = call(Echo, K),
    call_n(Echo, K + 1, N).

calls64(Echo, N) ->
    Per = N div 64,
    Me = self(),
    T0 = erlang:monotonic_time(),
    [spawn(fun() -> call_n(Echo, 1, Per), Me ! done end) || _ <- lists:seq(1, 64)],
    [receive done -> ok end || _ <- lists:seq(1, 64)],
    {seconds(T0), Per * 64}.
