#!/usr/bin/perl
# A WebSocket client built on Perl's Protocol::WebSocket, for interop tests.
#
#   perl client.pl [--version 75|76|13] [--protocol NAME] [--origin ORIGIN] URL MESSAGE...
#
# Connects with IO::Socket::INET, runs the opening handshake of the given
# version (75: draft-hixie-75, 76: draft-hixie-76 / hybi-00, 13: RFC 6455),
# sends every MESSAGE as a text frame in one write, prints each echo, then
# runs the closing handshake of the version. Output, one line each:
#
#   open location=L origin=O protocol=P   (drafts; RFC 6455 prints accept=ok)
#   echo TEXT
#   closed HOW
#
# Any failure goes to stderr with exit status 1.
use strict;
use warnings;
use IO::Socket::INET;
use Digest::SHA ();
use MIME::Base64 ();
use Protocol::WebSocket::Handshake::Client;
use Protocol::WebSocket::Frame;

$SIG{ALRM} = sub { die "Timed out\n" };
alarm 20;
binmode STDOUT;
$| = 1;

my %versions = (
    '75' => 'draft-hixie-75',
    '76' => 'draft-ietf-hybi-00',
    '13' => 'draft-ietf-hybi-17',
);
my ($version, $protocol, $origin) = ('13');
while (@ARGV && $ARGV[0] =~ /^--(version|protocol|origin)$/) {
    my $flag = shift @ARGV;
    my $value = shift @ARGV;
    die "Missing value for $flag\n" unless defined $value;
    if    ($flag eq '--version')  { $version  = $value }
    elsif ($flag eq '--protocol') { $protocol = $value }
    else                          { $origin   = $value }
}
my $name = $versions{$version} or die "Unknown version $version\n";
my $url = shift @ARGV or die "Usage: client.pl [--version V] URL MESSAGE...\n";
my @messages = @ARGV;

my ($host, $port) = $url =~ m{^ws://([^:/]+):(\d+)} or die "Bad URL $url\n";
my $socket = IO::Socket::INET->new(
    PeerAddr => $host,
    PeerPort => $port,
    Proto    => 'tcp',
) or die "Cannot connect to $host:$port: $!\n";
binmode $socket;

my $hs = Protocol::WebSocket::Handshake::Client->new(url => $url, version => $name);
$hs->req->origin($origin) if defined $origin;
$hs->req->subprotocol($protocol) if defined $protocol;
my $key;
if ($version eq '13') {
    # Set the key ourselves so that the accept value can be checked.
    $key = MIME::Base64::encode_base64(join('', map { chr int rand 256 } 1 .. 16), '');
    $hs->req->key($key);
}
write_all($hs->to_string);

my $buffer = '';
until ($hs->is_done) {
    read_more(\$buffer) or die "Connection closed during the handshake\n";
    $hs->parse($buffer) or die 'Handshake failed: ' . $hs->error . "\n";
}
my $res = $hs->res;
if ($version eq '13') {
    my $expected = MIME::Base64::encode_base64(
        Digest::SHA::sha1($key . '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'), '');
    my $accept = $res->field('Sec-WebSocket-Accept') // '';
    die "Bad Sec-WebSocket-Accept $accept\n" unless $accept eq $expected;
    printf "open accept=ok protocol=%s\n", $res->field('Sec-WebSocket-Protocol') // '';
}
else {
    my $prefix = $version eq '76' ? 'Sec-WebSocket-' : 'WebSocket-';
    printf "open location=%s origin=%s protocol=%s\n",
      map { $res->field($prefix . $_) // '' } qw(Location Origin Protocol);
}

my $reader = Protocol::WebSocket::Frame->new(version => $name);
$reader->append($buffer);
write_all(join '', map { frame(buffer => $_)->to_bytes } @messages);
my $echoes = 0;
while ($echoes < @messages) {
    my $bytes = next_frame();
    die "Connection closed before every echo arrived\n" unless defined $bytes;
    next if $version eq '13' && !$reader->is_text;
    die "Unexpected closing handshake\n" if $version ne '13' && $reader->is_close;
    print "echo $bytes\n";
    $echoes++;
}

if ($version eq '75') {
    # Draft 75 has no closing handshake: our end of the stream is the close.
    shutdown $socket, 1;
    my $rest = next_frame();
    die "Unexpected data after close\n" if defined $rest;
    print "closed eof\n";
}
elsif ($version eq '76') {
    write_all("\xff\x00");
    my $bytes = next_frame();
    die "No closing handshake from the server\n"
      unless defined $bytes && $reader->is_close;
    die "Unexpected data after the closing handshake\n" if defined next_frame();
    print "closed handshake\n";
}
else {
    write_all(frame(type => 'close', buffer => pack('n', 1000) . 'bye')->to_bytes);
    my $bytes;
    do { $bytes = next_frame() } while defined $bytes && !$reader->is_close;
    die "No close frame from the server\n" unless defined $bytes;
    my ($code, $reason) = length $bytes >= 2 ? unpack('n a*', $bytes) : (1005, '');
    die "Unexpected data after the close frame\n" if defined next_frame();
    print "closed code=$code reason=$reason\n";
}
close $socket;
exit 0;

# A frame to send: masked, as a client's must be (the drafts ignore it).
sub frame {
    return Protocol::WebSocket::Frame->new(version => $name, masked => 1, @_);
}

# The next frame's payload, or undef once the server closed the stream.
sub next_frame {
    while (1) {
        my $bytes = $reader->next_bytes;
        return $bytes if defined $bytes;
        my $chunk = '';
        read_more(\$chunk) or return undef;
        $reader->append($chunk);
    }
}

sub read_more {
    my ($into) = @_;
    my $n = sysread $socket, my $chunk, 65536;
    die "Read failed: $!\n" unless defined $n;
    return 0 if $n == 0;
    $$into .= $chunk;
    return 1;
}

sub write_all {
    my ($data) = @_;
    while (length $data) {
        my $n = syswrite $socket, $data;
        die "Write failed: $!\n" unless defined $n;
        substr $data, 0, $n, '';
    }
}
