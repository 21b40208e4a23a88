#!/usr/bin/perl
# A WebSocket echo server built on Perl's Protocol::WebSocket, for interop
# tests. It serves one connection (or --count N, one after another) of
# whichever version the client's request speaks: draft-hixie-75,
# draft-hixie-76 / hybi-00 or RFC 6455.
#
#   perl echo_server.pl [--count N]
#
# Output, one line each:
#
#   listening PORT
#   handshake VERSION resource=R origin=O protocol=P
#   message TEXT                  (each message, echoed back)
#   closed HOW                    (handshake, eof, or code=C reason=R)
use strict;
use warnings;
use IO::Socket::INET;
use Protocol::WebSocket::Handshake::Server;

$SIG{ALRM} = sub { die "Timed out\n" };
alarm 30;
binmode STDOUT;
$| = 1;

my $count = 1;
if (@ARGV >= 2 && $ARGV[0] eq '--count') {
    $count = $ARGV[1];
    die "Invalid --count $count\n" unless $count =~ /^[1-9]\d*$/;
}

my $listener = IO::Socket::INET->new(
    LocalAddr => '127.0.0.1',
    LocalPort => 0,
    Proto     => 'tcp',
    Listen    => 5,
    ReuseAddr => 1,
) or die "Cannot listen: $!\n";
print 'listening ', $listener->sockport, "\n";

for (1 .. $count) {
    my $socket = $listener->accept or die "Accept failed: $!\n";
    binmode $socket;
    serve($socket);
    close $socket;
}
close $listener;
exit 0;

sub serve {
    my ($socket) = @_;
    my $hs = Protocol::WebSocket::Handshake::Server->new;
    my $buffer = '';
    my $answered_head = 0;
    until ($hs->is_done) {
        read_more($socket, \$buffer) or die "Connection closed during the handshake\n";
        $hs->parse($buffer) or die 'Handshake failed: ' . $hs->error . "\n";
        # The module does not echo the subprotocol; a server that accepts
        # the one asked for does.
        my $asked = $hs->req->subprotocol;
        $hs->res->subprotocol($asked) if defined $asked;
        if ($hs->is_body && !$answered_head) {
            # Draft 76: the head goes out before the 8 key bytes arrive.
            write_all($socket, $hs->to_string);
            $answered_head = 1;
        }
    }
    write_all($socket, $hs->to_string);
    my $version = $hs->version;
    printf "handshake %s resource=%s origin=%s protocol=%s\n", $version,
      $hs->req->resource_name, $hs->req->origin // '', $hs->req->subprotocol // '';

    my $draft = $version eq 'draft-hixie-75' || $version eq 'draft-ietf-hybi-00';
    my $frame = $hs->build_frame;
    $frame->append($buffer);
    while (1) {
        my $bytes = $frame->next_bytes;
        unless (defined $bytes) {
            my $chunk = '';
            unless (read_more($socket, \$chunk)) {
                print "closed eof\n";
                return;
            }
            $frame->append($chunk);
            next;
        }
        if ($frame->is_close) {
            if ($draft) {
                write_all($socket, $hs->build_frame(type => 'close')->to_bytes);
                print "closed handshake\n";
            }
            else {
                my ($code, $reason) =
                  length $bytes >= 2 ? unpack('n a*', $bytes) : (1005, '');
                write_all($socket,
                    $hs->build_frame(type => 'close', buffer => $bytes)->to_bytes);
                print "closed code=$code reason=$reason\n";
            }
            return;
        }
        if (!$draft && $frame->is_ping) {
            write_all($socket, $hs->build_frame(type => 'pong', buffer => $bytes)->to_bytes);
            next;
        }
        next if !$draft && !$frame->is_text && !$frame->is_binary;
        my $type = !$draft && $frame->is_binary ? 'binary' : 'text';
        write_all($socket, $hs->build_frame(type => $type, buffer => $bytes)->to_bytes);
        print "message $bytes\n";
    }
}

sub read_more {
    my ($socket, $into) = @_;
    my $n = sysread $socket, my $chunk, 65536;
    die "Read failed: $!\n" unless defined $n;
    return 0 if $n == 0;
    $$into .= $chunk;
    return 1;
}

sub write_all {
    my ($socket, $data) = @_;
    while (length $data) {
        my $n = syswrite $socket, $data;
        die "Write failed: $!\n" unless defined $n;
        substr $data, 0, $n, '';
    }
}
