#!/usr/bin/perl
# Consumer side of tests/bench/overhead.sh: timestamps generated tokens as
# they arrive and prints "TOKENS TOK_S", where TOK_S is (TOKENS - 1) over the
# time from the first token's arrival to the last's, and writes the text.
#
#   stamp.pl sse TEXT_FILE CMD...   llorch-serve's /execute event stream from
#                                   CMD (curl -N ...), started once this
#                                   script is ready to read; tokens from the
#                                   end event
#   stamp.pl loop FIFO TEXT_FILE FIRST_FILE
#                                   llorch-sample's lines on stdin; FIFO is
#                                   llorch-forward's input: the line in
#                                   FIRST_FILE goes in first, then every line
#                                   that is not done, closing the loop
use strict;
use warnings;
use JSON::PP;
use Time::HiRes qw(time);

my $mode = shift // '';
my ($fifo, $out);
if ($mode eq 'loop') {
	$fifo = shift;
	open($out, '>', $fifo) or die "stamp: $fifo: $!\n";
	$out->autoflush(1);
} elsif ($mode ne 'sse') {
	die "usage: stamp.pl sse TEXT_FILE CMD... | stamp.pl loop FIFO TEXT_FILE FIRST_FILE\n";
}
my $text_file = shift or die "stamp: no text file\n";
if ($mode eq 'loop') {
	my $first_file = shift or die "stamp: no first line\n";
	open(my $ff, '<', $first_file) or die "stamp: $first_file: $!\n";
	print {$out} <$ff>;
}
my $in;
if ($mode eq 'sse') {
	die "stamp: no command\n" unless @ARGV;
	open($in, '-|', @ARGV) or die "stamp: $ARGV[0]: $!\n";
} else {
	$in = \*STDIN;
}
my $json = JSON::PP->new->utf8->allow_nonref;
my ($t_first, $t_last, $steps, $text) = (undef, undef, 0, '');

while (my $line = <$in>) {
	my $t = time;
	if ($mode eq 'loop') {
		# the line goes back first: the stamp's own work stays off the loop
		my $done = $line =~ /"done":true/;
		print $out $line unless $done;
		die "stamp: the pipeline reported an error: $line" if $line =~ /"error":/;
		$t_first //= $t;
		$t_last = $t;
		$steps++;
		# only the text is decoded: the whole line's token list grows
		$text .= $json->decode($1) if $line =~ /"text":("(?:[^"\\]|\\.)*")/;
		last if $done;
	} elsif ($line =~ /^data: (.*)/) {
		my $o = $json->decode($1);
		my $type = $o->{type} // '';
		if ($type eq 'token') {
			$t_first //= $t;
			$t_last = $t;
			$text .= $o->{t};
		} elsif ($type eq 'end') {
			$t_last = $t;
			$steps = $o->{tokens_out};
			last;
		} elsif ($type eq 'error') {
			die "stamp: the server reported an error: $1\n";
		}
	}
}
close $out if $out;
if ($mode eq 'sse') {
	close $in or die "stamp: $ARGV[0] failed (status $?)\n";
}
die "stamp: the stream ended before the generation was done\n" unless defined $t_last;
open(my $tf, '>:raw', $text_file) or die "stamp: $text_file: $!\n";
utf8::encode($text);
print $tf $text;
close $tf or die "stamp: $text_file: $!\n";
my $span = $t_last - $t_first;
printf "%d %.2f\n", $steps, $steps > 1 && $span > 0 ? ($steps - 1) / $span : 0;
