//! Dead letters on AWS: one SQS message per event that can never apply, its body the event as
//! received and its attributes the reason, the detail and the event id.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageAttributeValue;
use domain::ports::{DeadLetter, DeadLetters, PublishError, PublishFuture};

pub struct SqsDeadLetters {
    client: Client,
    queue_url: String,
}

impl SqsDeadLetters {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

fn text(value: &str) -> Result<MessageAttributeValue, PublishError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| PublishError::Bus(e.to_string()))
}

impl DeadLetters for SqsDeadLetters {
    fn dead_letter<'a>(&'a self, letter: &'a DeadLetter) -> PublishFuture<'a, ()> {
        Box::pin(async move {
            let mut send = self
                .client
                .send_message()
                .queue_url(&self.queue_url)
                .message_body(&letter.body)
                .message_attributes("reason", text(&letter.reason)?)
                .message_attributes("detail", text(&letter.detail)?);
            if let Some(id) = &letter.event_id {
                send = send.message_attributes("eventId", text(id)?);
            }
            send.send().await.map_err(|e| {
                PublishError::Bus(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
            })?;
            Ok(())
        })
    }
}
