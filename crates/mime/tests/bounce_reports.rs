//! Bounces as mail systems send them (fixtures under `tests/fixtures/bounces/`), read by
//! `bounce_report`: RFC 3464 reports, the text forms without a delivery-status part,
//! mail that is no report, and hostile input.

use std::path::Path;

use mailroom_mime::{BounceKind, BounceReport, BouncedRecipient, bounce_report};

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bounces")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn report(name: &str) -> BounceReport {
    bounce_report(&fixture(name)).unwrap_or_else(|| panic!("{name} is a bounce"))
}

fn recipient(
    address: &str,
    status: Option<&str>,
    code: Option<&str>,
    reason: &str,
    permanent: bool,
    kind: BounceKind,
) -> BouncedRecipient {
    BouncedRecipient {
        address: address.into(),
        status: status.map(Into::into),
        code: code.map(Into::into),
        reason: reason.into(),
        permanent,
        kind,
    }
}

/// The message without its delivery-status part: what is left is the report's text.
fn without_delivery_status(raw: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    let start = text
        .find("Content-Type: message/delivery-status")
        .expect("a delivery-status part");
    let part_start = text[..start].rfind("\r\n--").expect("its boundary");
    let part_end = start + text[start..].find("\r\n--").expect("the next boundary");
    format!("{}{}", &text[..part_start], &text[part_end..]).into_bytes()
}

#[test]
fn postfix_3_7_dsn_with_the_returned_message() {
    let report = report("postfix_3_7_user_unknown.eml");
    assert_eq!(
        report,
        BounceReport {
            original_message_id: Some("0a1b2c3d-lunch@example.com".into()),
            original_subject: Some("Lunch on Friday?".into()),
            // Arrival-Date: Tue,  3 Dec 2024 10:00:03 +0000
            reported_at: Some(1_733_220_003),
            recipients: vec![recipient(
                "bob@example.net",
                Some("5.1.1"),
                Some("550"),
                "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown in local recipient table",
                true,
                BounceKind::MailboxUnavailable,
            )],
        }
    );
}

#[test]
fn postfix_text_alone_reads_the_same() {
    let raw = without_delivery_status(&fixture("postfix_3_7_user_unknown.eml"));
    let report = bounce_report(&raw).expect("still a bounce");
    assert_eq!(
        report.recipients,
        vec![recipient(
            "bob@example.net",
            Some("5.1.1"),
            Some("550"),
            "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown in local recipient table",
            true,
            BounceKind::MailboxUnavailable,
        )]
    );
    assert_eq!(
        report.original_message_id.as_deref(),
        Some("0a1b2c3d-lunch@example.com")
    );
    // Without Arrival-Date, the report's own Date.
    assert_eq!(report.reported_at, Some(1_733_220_005));
}

#[test]
fn postfix_delay_notice_is_not_permanent() {
    let report = report("postfix_3_7_delayed.eml");
    assert_eq!(
        report.original_message_id.as_deref(),
        Some("5e6f7a8b-agenda@example.com")
    );
    assert_eq!(
        report.original_subject.as_deref(),
        Some("Agenda for the board meeting")
    );
    assert_eq!(
        report.recipients,
        vec![recipient(
            "carol@example.org",
            Some("4.4.1"),
            None,
            "connect to mx.example.org[198.51.100.7]:25: Connection timed out",
            false,
            BounceKind::Other,
        )]
    );
    let text_only = bounce_report(&without_delivery_status(&fixture(
        "postfix_3_7_delayed.eml",
    )))
    .expect("still a report");
    assert_eq!(text_only.recipients.len(), 1);
    assert!(!text_only.recipients[0].permanent, "THIS IS A WARNING ONLY");
}

#[test]
fn delivered_recipients_are_left_out() {
    let report = report("sendmail_three_recipients_one_delivered.eml");
    assert_eq!(
        report.original_message_id.as_deref(),
        Some("quarterly-report-7781@example.com")
    );
    // RFC 2047 encoded in the returned headers.
    assert_eq!(
        report.original_subject.as_deref(),
        Some("Quarterly report – Q4")
    );
    // The first failed recipient's Last-Attempt-Date: Wed, 4 Dec 2024 09:15:22 -0500.
    assert_eq!(report.reported_at, Some(1_733_321_722));
    assert_eq!(
        report.recipients,
        vec![
            recipient(
                "dave@example.net",
                Some("5.1.1"),
                Some("550"),
                "550 5.1.1 <dave@example.net>... User unknown",
                true,
                BounceKind::MailboxUnavailable,
            ),
            recipient(
                "erin@example.org",
                Some("5.2.2"),
                Some("552"),
                "552 5.2.2 Mailbox full",
                true,
                BounceKind::MailboxFull,
            ),
        ]
    );
}

#[test]
fn qmail_failure_notice() {
    let report = report("qmail_failure_notice.eml");
    assert_eq!(
        report.original_message_id.as_deref(),
        Some("invite-42@example.com")
    );
    assert_eq!(report.original_subject.as_deref(), Some("Party invitation"));
    assert_eq!(
        report.recipients,
        vec![
            recipient(
                "gina@nowhere.example",
                Some("5.1.2"),
                None,
                "Sorry, I couldn't find any host named nowhere.example. (#5.1.2)",
                true,
                BounceKind::DomainNotFound,
            ),
            recipient(
                "hank@example.net",
                Some("5.1.1"),
                Some("550"),
                "550 5.1.1 <hank@example.net>... User unknown",
                true,
                BounceKind::MailboxUnavailable,
            ),
        ]
    );
}

#[test]
fn exim_failure_and_delay_warning() {
    let failed = report("exim_mail_delivery_failed.eml");
    assert_eq!(
        failed.original_message_id.as_deref(),
        Some("contract-draft-3@example.com")
    );
    assert_eq!(failed.original_subject.as_deref(), Some("Contract draft"));
    assert_eq!(
        failed.recipients,
        vec![recipient(
            "ivan@example.net",
            Some("5.7.1"),
            Some("550"),
            "550 5.7.1 <ivan@example.net>: Recipient address rejected: Access denied",
            true,
            BounceKind::Rejected,
        )]
    );
    let delayed = report("exim_delay_warning.eml");
    assert_eq!(
        delayed.recipients,
        vec![recipient(
            "judy@example.org",
            Some("4.2.2"),
            Some("452"),
            "452 4.2.2 <judy@example.org>: Mailbox full",
            false,
            BounceKind::MailboxFull,
        )]
    );
}

#[test]
fn gmail_text_form() {
    let report = report("gmail_address_not_found_text.eml");
    assert_eq!(
        report.original_message_id.as_deref(),
        Some("CAJx-budget-plan@mail.gmail.com")
    );
    assert_eq!(
        report.original_subject.as_deref(),
        Some("Budget plan for 2025")
    );
    assert_eq!(
        report.recipients,
        vec![recipient(
            "kate@example.net",
            Some("5.1.1"),
            Some("550"),
            "550 5.1.1 The email account that you tried to reach does not exist. Please try \
             double-checking the recipient's email address for typos or unnecessary spaces. \
             For more information, go to https://support.google.com/mail/?p=NoSuchUser \
             41be03b00d2f7-7fd1570b2e7si1234567a12.100 - gsmtp",
            true,
            BounceKind::MailboxUnavailable,
        )]
    );
}

#[test]
fn gmail_dsn_and_its_text_agree() {
    let report = report("gmail_dsn_domain_not_found.eml");
    assert_eq!(
        report.original_message_id.as_deref(),
        Some("CAJx-typo-domain@mail.gmail.com")
    );
    assert_eq!(
        report.original_subject.as_deref(),
        Some("Photos from the trip")
    );
    let leo = recipient(
        "leo@nowhere.invalid",
        Some("5.1.2"),
        None,
        "DNS Error: DNS type 'mx' lookup of nowhere.invalid responded with code NXDOMAIN \
         Domain name not found: nowhere.invalid",
        true,
        BounceKind::DomainNotFound,
    );
    assert_eq!(report.recipients, vec![leo.clone()]);
    let text_only = bounce_report(&without_delivery_status(&fixture(
        "gmail_dsn_domain_not_found.eml",
    )))
    .expect("still a report");
    let text_leo = &text_only.recipients[0];
    assert_eq!(text_leo.address, leo.address);
    assert_eq!(text_leo.reason, leo.reason);
    assert_eq!(text_leo.kind, BounceKind::DomainNotFound);
}

#[test]
fn exchange_online_ndr() {
    let report = report("exchange_online_recipient_not_found.eml");
    assert_eq!(
        report,
        BounceReport {
            original_message_id: Some(
                "AM0PR01MB5678BUDGET@AM0PR01MB5678.eurprd01.prod.exchangelabs.com".into()
            ),
            original_subject: Some("Budget review".into()),
            reported_at: Some(1_733_747_445),
            recipients: vec![recipient(
                "mallory@fabrikam.example",
                Some("5.1.10"),
                Some("550"),
                "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
                true,
                BounceKind::MailboxUnavailable,
            )],
        }
    );
}

#[test]
fn exchange_2010_ndr_with_two_recipients() {
    let report = report("exchange_2010_delivery_has_failed.eml");
    assert_eq!(
        report.original_message_id.as_deref(),
        Some("8C1D2E3F4A5B6C7D@EXCH01.contoso.com")
    );
    assert_eq!(report.original_subject.as_deref(), Some("Invoice 2024-118"));
    assert_eq!(
        report.recipients,
        vec![
            recipient(
                "niaj@fabrikam.example",
                Some("5.1.1"),
                Some("550"),
                "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found",
                true,
                BounceKind::MailboxUnavailable,
            ),
            recipient(
                "olivia@fabrikam.example",
                Some("5.2.2"),
                Some("554"),
                "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded",
                true,
                BounceKind::MailboxFull,
            ),
        ]
    );
}

#[test]
fn exchange_ndr_without_its_diagnostic_section() {
    let raw = String::from_utf8(fixture("exchange_2010_delivery_has_failed.eml")).expect("utf-8");
    let cut = raw.find("Diagnostic information").expect("the section");
    let report = bounce_report(&raw.as_bytes()[..cut]).expect("still a report");
    let found: Vec<(&str, BounceKind)> = report
        .recipients
        .iter()
        .map(|r| (r.address.as_str(), r.kind))
        .collect();
    assert_eq!(
        found,
        vec![
            ("niaj@fabrikam.example", BounceKind::MailboxUnavailable),
            ("olivia@fabrikam.example", BounceKind::MailboxFull),
        ]
    );
    // Original subject from the report's own subject.
    assert_eq!(report.original_subject.as_deref(), Some("Invoice 2024-118"));
}

#[test]
fn mail_about_bounces_is_no_bounce() {
    for name in [
        "not_a_bounce_quoting_failure.eml",
        "read_receipt_mdn.eml",
        "out_of_office.eml",
    ] {
        assert_eq!(bounce_report(&fixture(name)), None, "{name}");
    }
}

#[test]
fn ordinary_mail_is_no_bounce() {
    let raw = b"From: Ann <ann@example.com>\r\nTo: bob@example.net\r\nSubject: Hi\r\n\r\nYour message could not be delivered, just kidding.\r\n";
    assert_eq!(bounce_report(raw), None);
    assert_eq!(bounce_report(b""), None);
    assert_eq!(bounce_report(b"\r\n\r\n"), None);
}

#[test]
fn kinds_have_their_wire_names() {
    let names: Vec<&str> = [
        BounceKind::MailboxUnavailable,
        BounceKind::MailboxFull,
        BounceKind::DomainNotFound,
        BounceKind::Rejected,
        BounceKind::MessageTooLarge,
        BounceKind::Other,
    ]
    .into_iter()
    .map(BounceKind::as_str)
    .collect();
    assert_eq!(
        names,
        [
            "mailbox_unavailable",
            "mailbox_full",
            "domain_not_found",
            "rejected",
            "message_too_large",
            "other"
        ]
    );
}

#[test]
fn message_too_large_is_recognised() {
    let raw = "From: MAILER-DAEMON@mail.example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n\
               Content-Type: text/plain\r\n\r\nThis is the mail system at host mail.example.com.\r\n\r\n\
               <pat@example.net>: host mx.example.net[203.0.113.25] said: 552 5.3.4 Message size\r\n    \
               exceeds fixed limit (in reply to end of DATA command)\r\n";
    let report = bounce_report(raw.as_bytes()).expect("a bounce");
    assert_eq!(report.recipients[0].kind, BounceKind::MessageTooLarge);
    assert_eq!(
        report.recipients[0].reason,
        "552 5.3.4 Message size exceeds fixed limit"
    );
}

#[test]
fn truncated_reports_give_what_can_be_read() {
    let raw = fixture("sendmail_three_recipients_one_delivered.eml");
    let text = String::from_utf8(raw).expect("utf-8");
    // Cut inside the third recipient's block: the first is read, the third partly.
    let cut = text
        .find("Remote-MTA: DNS; mx.example.org")
        .expect("the third block");
    let report = bounce_report(&text.as_bytes()[..cut]).expect("still a report");
    assert_eq!(report.recipients.len(), 2);
    assert_eq!(report.recipients[1].address, "erin@example.org");
    assert_eq!(report.recipients[1].reason, "Mailbox full");
    assert_eq!(report.original_message_id, None);
    // Every prefix of every fixture: whatever comes out, nothing panics.
    for entry in
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bounces"))
            .expect("fixtures")
    {
        let raw = std::fs::read(entry.expect("entry").path()).expect("read");
        for end in (0..raw.len()).step_by(7) {
            let _ = bounce_report(&raw[..end]);
        }
    }
}

#[test]
fn missing_fields_and_odd_values_do_not_break_it() {
    let raw = "From: MAILER-DAEMON@x.example\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n\
               --b\r\nContent-Type: message/delivery-status\r\n\r\n\
               Reporting-MTA: dns; x.example\r\n\r\n\
               Action: failed\r\nStatus: 5.1.1\r\n\r\n\
               Final-Recipient: rfc822;\r\nAction: failed\r\n\r\n\
               Final-Recipient: rfc822; <Quinn@Example.Net>\r\nStatus: 5.9.999999\r\nDiagnostic-Code: ;\r\n\r\n\
               --b--\r\n";
    let report = bounce_report(raw.as_bytes()).expect("one recipient is readable");
    assert_eq!(
        report.recipients,
        vec![recipient(
            "quinn@example.net",
            None,
            None,
            "failed",
            true,
            BounceKind::Other,
        )]
    );
}

#[test]
fn giant_lines_and_garbage_are_bounded() {
    let mut raw = b"From: MAILER-DAEMON@x.example\r\nSubject: ".to_vec();
    raw.extend(std::iter::repeat_n(b'x', 3 << 20));
    raw.extend(b"\r\n\r\nThis is the mail system at host x.\r\n\r\n<a@b.example>: ");
    raw.extend(std::iter::repeat_n(b'y', 2 << 20));
    assert!(bounce_report(&raw).is_none_or(|r| r.recipients.len() <= 1));

    let garbage: Vec<u8> = (0..1_000_000u32)
        .map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert_eq!(bounce_report(&garbage), None);

    let mut many = String::from(
        "From: MAILER-DAEMON@x.example\r\nContent-Type: multipart/report; boundary=b\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n",
    );
    for n in 0..5_000 {
        many.push_str(&format!(
            "Final-Recipient: rfc822; u{n}@x.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        ));
    }
    many.push_str("--b--\r\n");
    assert_eq!(
        bounce_report(many.as_bytes()).map(|r| r.recipients.len()),
        Some(100)
    );
}

#[test]
fn a_large_returned_message_does_not_hide_the_report() {
    let raw = String::from_utf8(fixture("postfix_3_7_user_unknown.eml")).expect("utf-8");
    let body_at = raw.find("Hi Bob, are you free").expect("the returned body");
    let mut large = raw[..body_at].to_owned();
    for _ in 0..200_000 {
        large.push_str("A long attachment line of the message that bounced, base64 or not.\r\n");
    }
    assert!(large.len() > 8 << 20);
    let report = bounce_report(large.as_bytes()).expect("the report is read from its start");
    assert_eq!(report.recipients[0].address, "bob@example.net");
}
