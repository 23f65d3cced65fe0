#!/usr/bin/perl
# Consumer side of tests/bench/overhead.sh: timestamps generated tokens as
# they arrive and prints "TOKENS TOK_S", where TOK_S is (TOKENS - 1) over the
# time from the first token's arrival to the last's, and writes the text.
#
#   stamp.pl sse TEXT_FILE CMD...   llorch-serve's /execute event stream from
#                                   CMD (curl -N ...), started once this
#                                   script is ready to read; tokens from the
#                                   end event
#   stamp.pl http TEXT_FILE URL BODY_FILE
#                                   the same stream read from the socket by
#                                   this script (HTTP/1.0 POST of BODY_FILE,
#                                   so no chunked encoding), as a client
#                                   library in the consumer would: one
#                                   process woken a token, where curl and a
#                                   reader behind its pipe are two
#   stamp.pl loop TEXT_FILE         the lines of llorch-sample --loop (which
#                                   closes the loop itself) on stdin, up to
#                                   the one that is done
use strict;
use warnings;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(time);

my $mode = shift // '';
if ($mode ne 'loop' && $mode ne 'sse' && $mode ne 'http') {
	die "usage: stamp.pl sse TEXT_FILE CMD... | stamp.pl http TEXT_FILE URL BODY_FILE | " .
		"stamp.pl loop TEXT_FILE\n";
}
my $text_file = shift or die "stamp: no text file\n";
my $in;
if ($mode eq 'sse') {
	die "stamp: no command\n" unless @ARGV;
	open($in, '-|', @ARGV) or die "stamp: $ARGV[0]: $!\n";
} elsif ($mode eq 'http') {
	my ($url, $body_file) = @ARGV;
	die "stamp: no URL and body\n" unless defined $body_file;
	my ($host, $port, $path) = $url =~ m{^http://([^/:]+):(\d+)(/.*)$}
		or die "stamp: $url: not http://HOST:PORT/PATH\n";
	open(my $bf, '<:raw', $body_file) or die "stamp: $body_file: $!\n";
	my $body = do { local $/; <$bf> };
	$in = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Proto => 'tcp')
		or die "stamp: $url: $@\n";
	print {$in} "POST $path HTTP/1.0\r\nHost: $host:$port\r\n" .
		"Content-Type: application/json\r\nContent-Length: " . length($body) .
		"\r\n\r\n$body";
	my $status = <$in> // '';
	die "stamp: $url: $status" unless $status =~ m{^HTTP/1\.[01] 200 };
	while (my $h = <$in>) {
		last if $h =~ /^\r?\n$/;
	}
} else {
	$in = \*STDIN;
}
my $json = JSON::PP->new->utf8->allow_nonref;
my ($t_first, $t_last, $steps, $text, $ended, @lines) = (undef, undef, 0, '', 0);

# Per line only the time and the end test: any other work here would take
# CPU from the loop or the server. The lines are decoded after the end.
while (my $line = <$in>) {
	my $t = time;
	if ($mode eq 'loop') {
		die "stamp: the pipeline reported an error: $line" if index($line, '"error":') >= 0;
		my $done = index($line, '"done":true') >= 0;
		$t_first //= $t;
		$t_last = $t;
		push @lines, $line;
		$ended = $done;
		last if $done;
	} elsif (index($line, 'data: {"type":"token"') == 0) {
		$t_first //= $t;
		$t_last = $t;
		push @lines, $line;
	} elsif (index($line, 'data: ') == 0) {
		push @lines, $line;
		if (index($line, '"type":"end"') >= 0 || index($line, '"type":"error"') >= 0) {
			$t_last = $t;
			$ended = 1;
			last;
		}
	}
}
for my $line (@lines) {
	if ($mode eq 'loop') {
		$steps++;
		# only the text is decoded: the whole line's token list grows
		$text .= $json->decode($1) if $line =~ /"text":("(?:[^"\\]|\\.)*")/;
		next;
	}
	my $o = $json->decode(substr($line, 6));
	my $type = $o->{type} // '';
	if ($type eq 'token') {
		$text .= $o->{t};
	} elsif ($type eq 'end') {
		$steps = $o->{tokens_out};
	} elsif ($type eq 'error') {
		die "stamp: the server reported an error: " . substr($line, 6);
	}
}
die "stamp: the stream ended before the generation was done\n" unless $ended && defined $t_first;
open(my $tf, '>:raw', $text_file) or die "stamp: $text_file: $!\n";
utf8::encode($text);
print $tf $text;
close $tf or die "stamp: $text_file: $!\n";
my $span = $t_last - $t_first;
printf "%d %.2f\n", $steps, $steps > 1 && $span > 0 ? ($steps - 1) / $span : 0;
