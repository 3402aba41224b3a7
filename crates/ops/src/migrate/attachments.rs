//! Attachments on Stream's CDN (`--rehost-attachments`): a copy that keeps their URLs points new
//! members at files signed for the old channel, readable by its members only and expiring after
//! 14 days. Each such file is read once (its URL is signed, so no auth is needed) and uploaded
//! to the new channel as the copy's sender (`/image` for an image attachment, `/file`
//! otherwise), and the copy points at the new file. Other URLs stay as they are.

use std::collections::HashMap;

use gymchat_ids::Cid;
use gymchat_stream::Client;
use gymchat_stream::model::{ATTACHMENT_URL_FIELDS, NewMessage};
use serde_json::Value;

use super::error::StepError;

/// Uploads the files of `message`'s attachments that are on Stream's CDN to `new` and points the
/// attachments at them; answers how many files it uploaded. A file named twice (an image and its
/// thumbnail) is uploaded once.
pub(crate) async fn rehost(client: &Client, new: &Cid, message: &mut NewMessage) -> Result<usize, StepError> {
    let mut moved: HashMap<String, String> = HashMap::new();
    let sender = message.user_id.clone();
    for attachment in message.attachments.iter_mut().filter_map(Value::as_object_mut) {
        let image = attachment.get("type").and_then(Value::as_str) == Some("image");
        for field in ATTACHMENT_URL_FIELDS {
            let Some(url) = attachment.get(*field).and_then(Value::as_str).map(str::to_owned) else { continue };
            if !client.on_stream_cdn(&url) {
                continue;
            }
            if !moved.contains_key(&url) {
                let (bytes, content_type) = client.download(&url).await?;
                let name = file_name(&url);
                let image = image && content_type.starts_with("image/");
                let at = client.upload_to_channel(new, &sender, (&name, &content_type, bytes), image).await?;
                moved.insert(url.clone(), at);
            }
            attachment.insert((*field).to_owned(), Value::String(moved[&url].clone()));
        }
    }
    Ok(moved.len())
}

/// The file's name: the last segment of the URL's path.
fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let name = path.rsplit('/').next().unwrap_or_default();
    if name.is_empty() { "attachment".to_owned() } else { name.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn a_files_name_is_its_urls_last_segment() {
        assert_eq!(file_name("https://us-east.stream-io-cdn.com/1/a/photo.png?Expires=1&Signature=x"), "photo.png");
        assert_eq!(file_name("https://cdn/x/"), "attachment");
    }
}
